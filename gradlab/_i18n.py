"""The words of the tour, its report and its figures, in English and in Spanish: one catalogue.

The contract:

- `MESSAGES` maps a key to one template per language of `LANGUAGES`; every
  key has every language, with the same ``{placeholders}`` (tests check both).
  English is the default; the Spanish is the course's own language.
- `text` formats a template with ``str.format``. Numbers are formatted by the
  template's own format spec, the same in both languages, so a number reads
  the same in each: the decimal separator stays a point in Spanish, as the
  course's Python code prints numbers (``2.0588``, ``13.7%``).
- What is a name, not a word, is never translated: cost names (``line``,
  ``bowl``, ``sine``), parameter names (``m``, ``b``, ``w``), ``jax.grad``,
  ``L-BFGS``, file names, formulas.
- A language outside `LANGUAGES` is refused by `check_language` with a
  ``ValueError`` that names the argument.

Example:
  >>> text("es", "tour.exact.title"), text("es", "plot.minimum_at", name="m", value=2.05882)
  ('4. La solución exacta', 'mínimo: m = 2.059')
"""

from __future__ import annotations

LANGUAGES = ("en", "es")
DEFAULT = "en"

MESSAGES: dict[str, dict[str, str]] = {
    # -- the tour's steps (the progress bar) -------------------------------------------------
    "step.data": {"en": "the data", "es": "los datos"},
    "step.sweep": {"en": "one-parameter sweep", "es": "barrido de un parámetro"},
    "step.grid": {"en": "two-parameter grid", "es": "cuadrícula de dos parámetros"},
    "step.exact": {"en": "exact solution", "es": "solución exacta"},
    "step.gradcheck": {"en": "gradient check", "es": "verificación del gradiente"},
    "step.arrow": {"en": "gradient arrow", "es": "flecha del gradiente"},
    "step.bowl": {"en": "descent on the bowl", "es": "descenso en el tazón"},
    "step.rates": {"en": "learning rates", "es": "tasas de aprendizaje"},
    "step.sine": {"en": "the sine fit", "es": "el ajuste del seno"},
    "step.multistart": {"en": "multistart", "es": "múltiples inicios"},
    "step.compare": {"en": "comparison", "es": "comparación"},
    # -- the tour's sections -----------------------------------------------------------------
    "tour.data.title": {"en": "1. The data", "es": "1. Los datos"},
    "tour.data.text": {
        "en": "100 noisy points from the line y = 2x − 3 (noise 0.25). The cost of a line "
              "(m, b) is its mean squared error on them.",
        "es": "100 puntos con ruido tomados de la recta y = 2x − 3 (ruido 0.25). El costo de "
              "una recta (m, b) es su error cuadrático medio sobre ellos."},
    "tour.sweep.title": {"en": "2. One parameter: a sweep", "es": "2. Un parámetro: un barrido"},
    "tour.sweep.cost_name": {"en": "line (b fixed)", "es": "line (b fija)"},  # a figure's title
    "tour.sweep.text": {
        "en": "With b fixed at {b:.4f}, the cost is a parabola in m; its lowest grid point is "
              "m = {m:.4f}.",
        "es": "Con b fija en {b:.4f}, el costo es una parábola en m; su punto más bajo en la "
              "cuadrícula es m = {m:.4f}."},
    "tour.grid.title": {"en": "3. Two parameters: a grid",
                        "es": "3. Dos parámetros: una cuadrícula"},
    "tour.grid.text": {
        "en": "A {num}×{num} grid: the cost is a bowl with its lowest point at (m, b) = "
              "({m:.4f}, {b:.4f}).",
        "es": "Una cuadrícula de {num}×{num}: el costo es un tazón con su punto más bajo en "
              "(m, b) = ({m:.4f}, {b:.4f})."},
    "tour.exact.title": {"en": "4. The exact solution", "es": "4. La solución exacta"},
    "tour.exact.text": {
        "en": "Least squares (by SVD) gives the minimum directly: m = {m:.6f}, b = {b:.6f}, "
              "cost {cost:.6f}.",
        "es": "Los mínimos cuadrados (por SVD) dan el mínimo directamente: m = {m:.6f}, "
              "b = {b:.6f}, costo {cost:.6f}."},
    "tour.exact.uncertainty": {
        "en": "How sure are we of each parameter? A least-squares fit (gl.fit, "
              "Levenberg–Marquardt) reaches the same line and, from the scatter of the "
              "residuals (residual SD {sd:.3g}, {dof} degrees of freedom), gives the standard "
              "error of each parameter and its {level} confidence interval ({status}).",
        "es": "¿Qué tan seguros estamos de cada parámetro? Un ajuste por mínimos cuadrados "
              "(gl.fit, Levenberg–Marquardt) llega a la misma recta y, a partir de la "
              "dispersión de los residuos (desviación típica residual {sd:.3g}, {dof} grados "
              "de libertad), da el error estándar de cada parámetro y su intervalo de "
              "confianza del {level} ({status})."},
    "tour.exact.header.parameter": {"en": "parameter", "es": "parámetro"},
    "tour.exact.header.value": {"en": "value", "es": "valor"},
    "tour.exact.header.stderr": {"en": "standard error", "es": "error estándar"},
    "tour.exact.header.low": {"en": "{level} low", "es": "{level} inferior"},
    "tour.exact.header.high": {"en": "{level} high", "es": "{level} superior"},
    "tour.exact.converged": {"en": "converged", "es": "convergió"},
    "tour.exact.not_converged": {"en": "did not converge: {message}",
                                 "es": "no convergió: {message}"},
    "tour.gradcheck.title": {"en": "5. The gradient, checked",
                             "es": "5. El gradiente, verificado"},
    "tour.gradcheck.text": {
        "en": "The gradient is the vector of partial derivatives. jax.grad computes it from the "
              "cost's code; it matches the hand-derived formulas and central finite "
              "differences (relative errors below).",
        "es": "El gradiente es el vector de las derivadas parciales. jax.grad lo calcula a "
              "partir del código de la función de costo; coincide con las fórmulas derivadas a "
              "mano y con las diferencias finitas centradas (errores relativos abajo)."},
    "tour.gradcheck.header.cost": {"en": "cost", "es": "función de costo"},
    "tour.gradcheck.header.analytic": {"en": "max error analytic vs jax.grad",
                                       "es": "error máx. analítico vs jax.grad"},
    "tour.gradcheck.header.fd": {"en": "max error finite diff vs jax.grad",
                                 "es": "error máx. diferencias finitas vs jax.grad"},
    "tour.gradcheck.header.passed": {"en": "passed", "es": "aprobada"},
    "tour.gradcheck.passed.yes": {"en": "True", "es": "sí"},
    "tour.gradcheck.passed.no": {"en": "False", "es": "no"},
    "tour.arrow.title": {"en": "6. Downhill is minus the gradient",
                         "es": "6. Cuesta abajo es menos el gradiente"},
    "tour.arrow.text": {
        "en": "At (m, b) = (−1, −2) the gradient is ({g0:.3f}, {g1:.3f}); it points uphill, so "
              "descent steps the other way.",
        "es": "En (m, b) = (−1, −2) el gradiente es ({g0:.3f}, {g1:.3f}); apunta cuesta "
              "arriba, así que el descenso avanza en sentido contrario."},
    "tour.bowl.title": {"en": "7. Gradient descent on the bowl",
                        "es": "7. Descenso de gradiente en el tazón"},
    "tour.bowl.text": {
        "en": "x ← x − 0.1·∇f(x) from (−1, −1), 50 steps, all parameters at once: it ends at "
              "({m:.4f}, {b:.4f}), cost {cost:.2e}.",
        "es": "x ← x − 0.1·∇f(x) desde (−1, −1), 50 pasos, todos los parámetros a la vez: "
              "termina en ({m:.4f}, {b:.4f}), con costo {cost:.2e}."},
    "tour.rates.title": {"en": "8. How large can the learning rate be?",
                         "es": "8. ¿Qué tan grande puede ser la tasa de aprendizaje?"},
    "tour.rates.text": {
        "en": "The line's cost curves most steeply along b, with curvature L = {curvature:.4g}, "
              "so plain descent is stable for α < 2/L = {limit:.4g}: small rates crawl, rates "
              "near the limit zig-zag across the valley, larger ones diverge (paths: the first "
              "20 steps).",
        "es": "El costo de la recta se curva más a lo largo de b, con curvatura "
              "L = {curvature:.4g}, así que el descenso simple es estable para "
              "α < 2/L = {limit:.4g}: las tasas pequeñas avanzan muy despacio, las cercanas al "
              "límite zigzaguean de una ladera a otra del valle y las mayores divergen "
              "(trayectorias: los primeros 20 pasos)."},
    "tour.rates.label": {"en": "α = {rate:g} ({status})", "es": "α = {rate:g} ({status})"},
    "tour.sine.title": {"en": "9. Many local minima", "es": "9. Muchos mínimos locales"},
    "tour.sine.text": {
        "en": "Fitting y = sin(w·x) to sin(10x): the cost over w has many dips. Only w = 10 "
              "fits; descent started in another dip stays there.",
        "es": "Al ajustar y = sin(w·x) a sin(10x), el costo en función de w tiene muchos "
              "valles. Solo w = 10 se ajusta; un descenso que empieza en otro valle se queda "
              "allí."},
    "tour.multistart.title": {"en": "10. Many starts at once",
                              "es": "10. Muchos inicios a la vez"},
    "tour.multistart.text": {
        "en": "{n_starts} descents from random w in [0, 50], in one compiled call, reach "
              "{n_minima} distinct minima; w = {best:.4f} is global. A single random start "
              "finds it with probability {share:.1%}: {starts_99:.0f} starts give 99% "
              "confidence.",
        "es": "{n_starts} descensos desde valores aleatorios de w en [0, 50], en una sola "
              "llamada compilada, llegan a {n_minima} mínimos distintos; w = {best:.4f} es el "
              "mínimo global. Un solo inicio aleatorio lo encuentra con probabilidad "
              "{share:.1%}: {starts_99:.0f} inicios dan un 99% de confianza."},
    "tour.multistart.header.cost": {"en": "cost", "es": "costo"},
    "tour.multistart.header.kind": {"en": "kind", "es": "tipo"},
    "tour.multistart.header.global": {"en": "global", "es": "global"},
    "tour.multistart.header.share": {"en": "share of starts", "es": "fracción de inicios"},
    "tour.multistart.yes": {"en": "yes", "es": "sí"},
    "kind.minimum": {"en": "minimum", "es": "mínimo"},
    "kind.saddle": {"en": "saddle", "es": "punto de silla"},
    "kind.flat": {"en": "flat", "es": "plano"},
    "tour.compare.title": {"en": "11. Three ways to the minimum",
                           "es": "11. Tres caminos hacia el mínimo"},
    "tour.compare.text": {
        "en": "On the line's cost: the exact answer, the grid's best point (accurate to its "
              "spacing), and descent (accurate to its tolerance).",
        "es": "Sobre el costo de la recta: la respuesta exacta, el mejor punto de la "
              "cuadrícula (preciso hasta su espaciado) y el descenso (preciso hasta su "
              "tolerancia)."},
    "tour.compare.header.method": {"en": "method", "es": "método"},
    "tour.compare.header.error": {"en": "error vs exact", "es": "error frente a la exacta"},
    "tour.compare.header.evaluations": {"en": "evaluations", "es": "evaluaciones"},
    "tour.compare.header.time": {"en": "time (warm)", "es": "tiempo (ya compilado)"},
    "tour.compare.exact": {"en": "exact", "es": "exacta"},
    "tour.compare.grid": {"en": "grid {num}×{num}", "es": "cuadrícula {num}×{num}"},
    "tour.compare.descent": {"en": "descent (L-BFGS)", "es": "descenso (L-BFGS)"},
    "tour.done": {
        "en": "{n_figures} figures, report.md and report.html written to {out}/ in "
              "{seconds:.1f} s",
        "es": "{n_figures} figuras, report.md y report.html escritos en {out}/ en "
              "{seconds:.1f} s"},
    # -- the report ----------------------------------------------------------------------------
    "report.title": {"en": "The gradlab tour", "es": "El recorrido de gradlab"},
    "report.computed": {"en": "Computed in {seconds:.1f} s by gradlab tour.",
                        "es": "Calculado en {seconds:.1f} s con gradlab tour."},
    # What each figure shows, for readers who cannot see it (the images' alt text).
    "alt.01_data.png": {
        "en": "The 100 noisy data points and the true line y = 2x − 3.",
        "es": "Los 100 puntos de datos con ruido y la recta verdadera y = 2x − 3."},
    "alt.02_sweep.png": {
        "en": "The cost against m with b fixed: a parabola, its lowest grid point marked.",
        "es": "El costo en función de m con b fija: una parábola, con su punto más bajo de la "
              "cuadrícula marcado."},
    "alt.03_heatmap.png": {
        "en": "Heat map and contour lines of the cost over (m, b), the grid's minimum marked.",
        "es": "Mapa de calor y curvas de nivel del costo sobre (m, b), con el mínimo de la "
              "cuadrícula marcado."},
    "alt.04_surface.png": {
        "en": "The cost over (m, b) drawn as a 3-D surface.",
        "es": "El costo sobre (m, b) dibujado como una superficie en 3D."},
    "alt.05_gradient.png": {
        "en": "Arrows of minus the gradient over the cost's contour lines, the one at "
              "(−1, −2) highlighted.",
        "es": "Flechas de menos el gradiente sobre las curvas de nivel del costo, con la del "
              "punto (−1, −2) resaltada."},
    "alt.06_history.png": {
        "en": "The cost and each parameter at every step of the descent on the bowl.",
        "es": "El costo y cada parámetro en cada paso del descenso en el tazón."},
    "alt.07_path.png": {
        "en": "The path of the descent over the bowl's contour lines, from (−1, −1) to "
              "(2, −3).",
        "es": "La trayectoria del descenso sobre las curvas de nivel del tazón, de (−1, −1) "
              "a (2, −3)."},
    "alt.08_learning_rates.png": {
        "en": "The final cost against the learning rate, coloured by how each run ended, the "
              "limit 2/L marked.",
        "es": "El costo final en función de la tasa de aprendizaje, coloreado según cómo "
              "terminó cada ejecución, con el límite 2/L marcado."},
    "alt.09_oscillation.png": {
        "en": "The first 20 steps of descent for four learning rates over the line's cost.",
        "es": "Los primeros 20 pasos del descenso con cuatro tasas de aprendizaje sobre el "
              "costo de la recta."},
    "alt.10_sine_curve.png": {
        "en": "The sine fit's cost against w: many local minima, the global one at w = 10.",
        "es": "El costo del ajuste del seno en función de w: muchos mínimos locales y el "
              "global en w = 10."},
    "alt.11_basins.png": {
        "en": "Where each start in w ends: the basins of the local minima and of the global "
              "one.",
        "es": "Dónde termina cada inicio en w: las cuencas de atracción de los mínimos "
              "locales y la del global."},
    # -- the figures (gradlab.plot) ------------------------------------------------------------
    "plot.cost": {"en": "cost", "es": "costo"},
    "plot.minimum_at": {"en": "minimum: {name} = {value:.4g}",
                        "es": "mínimo: {name} = {value:.4g}"},
    "plot.sweep": {"en": "one-parameter sweep", "es": "barrido de un parámetro"},
    "plot.known_minima": {"en": "known minima", "es": "mínimos conocidos"},
    "plot.log_cost": {"en": "log10(cost - min)", "es": "log10(costo - mín)"},
    "plot.grid_minimum": {"en": "grid minimum", "es": "mínimo de la cuadrícula"},
    "plot.landscape": {"en": "landscape", "es": "paisaje del costo"},
    "plot.descent": {"en": "descent", "es": "descenso"},
    "plot.surface": {"en": "surface", "es": "superficie"},
    "plot.minus_gradient": {"en": "-gradient", "es": "-gradiente"},
    "plot.steepest": {"en": "steepest descent direction", "es": "dirección de máximo descenso"},
    "plot.record": {"en": "record", "es": "registro"},
    "plot.true_value": {"en": "true {name}", "es": "{name} verdadero"},
    "plot.descent_status": {"en": "descent ({status})", "es": "descenso ({status})"},
    "plot.paths": {"en": "descent paths", "es": "trayectorias de descenso"},
    "plot.global_minimum": {"en": "global minimum", "es": "mínimo global"},
    "plot.local_minimum": {"en": "local minimum", "es": "mínimo local"},
    "plot.start_end": {"en": "start = end", "es": "inicio = final"},
    "plot.start": {"en": "start {name}", "es": "{name} inicial"},
    "plot.end": {"en": "end {name}", "es": "{name} final"},
    "plot.basins": {"en": "basins of {count} minima", "es": "cuencas de {count} mínimos"},
    "plot.learning_rate": {"en": "learning rate", "es": "tasa de aprendizaje"},
    "plot.final_cost": {"en": "final cost", "es": "costo final"},
    "plot.rate_sweep": {"en": "learning-rate sweep", "es": "barrido de tasas de aprendizaje"},
    "plot.data": {"en": "data", "es": "datos"},
    "plot.true_model": {"en": "true model", "es": "modelo verdadero"},
    "plot.fit": {"en": "fit {params}", "es": "ajuste {params}"},
    "plot.data_and_model": {"en": "data and model", "es": "datos y modelo"},
    "plot.data_shown": {"en": "data ({shown} of {total} points shown)",
                        "es": "datos (se muestran {shown} de {total} puntos)"},
    "plot.fitted": {"en": "fitted curve", "es": "curva ajustada"},
    "plot.residuals": {"en": "residual", "es": "residuo"},
    # -- gradlab fit ---------------------------------------------------------------------------
    "fit.title": {"en": "fit of {formula} to {file}", "es": "ajuste de {formula} a {file}"},
    "fit.header.parameter": {"en": "parameter", "es": "parámetro"},
    "fit.header.value": {"en": "value", "es": "valor"},
    "fit.header.stderr": {"en": "± stderr", "es": "± error estándar"},
    "fit.header.low": {"en": "{level} low", "es": "{level} inferior"},
    "fit.header.high": {"en": "{level} high", "es": "{level} superior"},
    "fit.rss": {"en": "RSS (sum of squared residuals)", "es": "suma de cuadrados de residuos"},
    "fit.chi2": {"en": "χ² (weighted RSS)", "es": "χ² (suma ponderada)"},
    "fit.residual_sd": {"en": "residual SD", "es": "desv. estándar de los residuos"},
    "fit.reduced_chi": {"en": "√(χ²/dof)", "es": "√(χ²/gl)"},
    "fit.dof": {"en": "degrees of freedom", "es": "grados de libertad"},
    "fit.points": {"en": "points", "es": "puntos"},
    "fit.status": {"en": "status: {status} ({message})", "es": "estado: {status} ({message})"},
    "fit.steps": {"en": "steps", "es": "pasos"},
    "fit.not_converged": {"en": "the fit did not converge: {message}",
                          "es": "el ajuste no convergió: {message}"},
    "fit.not_identifiable": {
        "en": "the fit converged, but not every parameter changes the curve: their values "
              "mean nothing (check the model, or fix a parameter)",
        "es": "el ajuste convergió, pero no todos los parámetros cambian la curva: sus valores "
              "no significan nada (revisa el modelo, o fija un parámetro)"},
    "fit.plot_written": {"en": "figure written to {path}", "es": "figura escrita en {path}"},
    # How a run ended (gradlab.Status), in a legend or a label: short words.
    "status.CONVERGED": {"en": "converged", "es": "convergió"},
    "status.MAX_STEPS": {"en": "max_steps", "es": "límite de pasos"},
    "status.DIVERGED": {"en": "diverged", "es": "divergió"},
    "status.NONFINITE": {"en": "nonfinite", "es": "no finito"},
    "status.STALLED": {"en": "stalled", "es": "estancado"},
    "status.NO_MINIMUM": {"en": "no_minimum", "es": "sin mínimo"},
    "status.SADDLE": {"en": "saddle", "es": "punto de silla"},
    # ... and in a sentence (`gradlab.result.status_message` is the English one).
    "status.detail.CONVERGED": {
        "en": "converged: the point is stationary at the problem's scale",
        "es": "convergió: el punto es estacionario a la escala del problema"},
    "status.detail.MAX_STEPS": {
        "en": "stopped at the step limit before reaching a stationary point",
        "es": "se detuvo en el límite de pasos antes de llegar a un punto estacionario"},
    "status.detail.DIVERGED": {
        "en": "diverged: the cost grew without bound, or ended above its start",
        "es": "divergió: el costo creció sin límite, o terminó por encima del inicial"},
    "status.detail.NONFINITE": {
        "en": "a NaN or inf appeared; the last finite point is kept",
        "es": "apareció un NaN o un inf; se conserva el último punto finito"},
    "status.detail.STALLED": {
        "en": "stalled: x stopped moving at a point that is not stationary "
              "(a learning rate too small, or a step the optimiser cannot improve)",
        "es": "estancado: x dejó de moverse en un punto que no es estacionario "
              "(una tasa de aprendizaje demasiado pequeña, o un paso que el optimizador no "
              "puede mejorar)"},
    "status.detail.NO_MINIMUM": {
        "en": "no minimum: the cost is unbounded below (its Hessian is not positive "
              "semi-definite)",
        "es": "sin mínimo: el costo no está acotado inferiormente (su hessiana no es "
              "semidefinida positiva)"},
    "status.detail.SADDLE": {
        "en": "not a minimum: the point is stationary, but the cost still descends along a "
              "direction of negative curvature (a saddle point or a maximum; start elsewhere)",
        "es": "no es un mínimo: el punto es estacionario, pero el costo aún desciende en una "
              "dirección de curvatura negativa (un punto de silla o un máximo; empieza en "
              "otro punto)"},
    # What a fit's standard errors cannot say (`gradlab._fit_record.notes`).
    "fit.note.held": {
        "en": "parameter(s) {params} held at a bound: their standard errors are undefined "
              "(NaN), the others' conditional on them",
        "es": "parámetro(s) {params} retenido(s) en una cota: sus errores estándar no están "
              "definidos (NaN), los de los demás son condicionales a ellos"},
    "fit.note.rank": {
        "en": "the Jacobian is rank-deficient (rank {rank} of {free} free parameters): the "
              "parameters are not all identifiable, and their standard errors are inf",
        "es": "el jacobiano tiene rango deficiente (rango {rank} de {free} parámetros libres): "
              "no todos los parámetros son identificables, y sus errores estándar son inf"},
    "fit.note.nonfinite": {
        "en": "the fit ended on NaN or inf residuals: no standard errors (NaN)",
        "es": "el ajuste terminó con residuos NaN o inf: no hay errores estándar (NaN)"},
    "fit.note.dof": {
        "en": "no degrees of freedom left (dof = {dof}): the residual scale, and so the "
              "standard errors, cannot be estimated",
        "es": "no quedan grados de libertad (gl = {dof}): la escala de los residuos, y con "
              "ella los errores estándar, no se puede estimar"},
}


def check_language(lang, *, name: str = "lang") -> str:
    """``lang`` if it is one of `LANGUAGES`; else a ``ValueError`` that names ``name``."""
    if lang not in LANGUAGES:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, LANGUAGES))}; "
                         f"got {lang!r}")
    return lang


def text(lang: str, key: str, **values) -> str:
    """The template of ``key`` in ``lang``, formatted with ``values``."""
    return MESSAGES[key][lang].format(**values)


def status_word(lang: str, status) -> str:
    """A short word for how a run ended (a `gradlab.Status`); a status the catalogue does not
    know yet reads as its name in lower case."""
    key = f"status.{status.name}"
    return text(lang, key) if key in MESSAGES else status.name.lower()


def status_detail(lang: str, status) -> str:
    """How a run ended (a `gradlab.Status`), in a sentence."""
    return text(lang, f"status.detail.{status.name}")


def kind_word(lang: str, kind: str) -> str:
    """``minimum`` / ``saddle`` / ``flat`` (a `gradlab.Minima` kind) in ``lang``."""
    key = f"kind.{kind}"
    return text(lang, key) if key in MESSAGES else str(kind)
