"""The course as a notebook: every cell written once, its text in Spanish and in English.

`build.py` writes ``examples/curso.ipynb`` (es) and ``examples/course.ipynb`` (en) from
`CELLS`. The rules that keep the two notebooks one course:

- A code cell is written once and appears, unchanged, in both notebooks. The one
  exception is the parameters cell (`PARAMETERS`, tagged ``parameters`` as papermill
  expects), which sets ``LANG``: the language of the figures' titles and labels.
- A markdown cell has a Spanish and an English version, side by side, so a change to
  one is made next to the other. They tell the same step; neither is a word-for-word
  copy of the other.
- The text never quotes a computed number (a cost, a minimum, a share of starts): it
  points at the output above. What the text states as fact follows from the
  mathematics or from the code's own inputs (``noise=0.25``, ``n_starts=1000``), and
  tests/test_notebooks.py checks the outputs the text relies on.
- Printed labels are language-neutral: formulas (``J(2, -3) =``) or the names of the
  records' fields (``nfev``, ``stderr``, ``is_global``), which the text explains.

Edit this file, then run ``python examples/notebooks/build.py`` to rewrite both
notebooks (``--check`` only says whether they are up to date).
"""

from textwrap import dedent


def md(es: str, en: str) -> dict:
    return {"type": "markdown", "es": dedent(es).strip(), "en": dedent(en).strip()}


def code(source: str) -> dict:
    return {"type": "code", "source": dedent(source).strip()}


PARAMETERS = {"type": "parameters"}  # LANG = "es" / "en"; tagged "parameters"

CELLS = [
    md(
        es=r"""
        # Descenso de gradiente, paso a paso

        Este cuaderno recorre la lección de ciencia de datos sobre **descenso de gradiente**
        con gradlab, una pequeña biblioteca construida sobre JAX.
        La historia es la siguiente: una *función de costo* mide cuánto se equivoca un
        modelo; su mínimo se puede encontrar de forma exacta, por fuerza bruta sobre una
        cuadrícula o con una búsqueda guiada por el gradiente; y cuando el costo tiene
        muchos valles, un solo descenso no basta.

        Ninguna cifra de este texto está escrita a mano: todas las calcula el código de las
        celdas al ejecutarse. Ejecuta las celdas en orden, de arriba abajo (en Jupyter:
        *Run → Run All Cells*).
        """,
        en=r"""
        # Gradient descent, step by step

        This notebook walks through the data-science lesson on **gradient descent** with
        gradlab, a small library built on JAX. The story: a *cost
        function* measures how wrong a model is; its minimum can be found exactly, by brute
        force over a grid, or by a search guided by the gradient; and when the cost has many
        valleys, one descent is not enough.

        No number in this text is typed by hand: every one is computed by the cells as they
        run. Run the cells in order, top to bottom (in Jupyter: *Run → Run All Cells*).
        """,
    ),
    md(
        es=r"""
        `LANG` elige el idioma de los títulos y las etiquetas de las figuras: `"es"` o `"en"`.
        """,
        en=r"""
        `LANG` sets the language of the figures' titles and labels: `"es"` or `"en"`.
        """,
    ),
    PARAMETERS,
    md(
        es=r"""
        Importamos JAX, matplotlib y gradlab (`gl`). JAX calcula en precisión simple
        (float32) por defecto; activamos la doble precisión (float64) para que las
        comparaciones finas de más adelante tengan sentido. `show_table` muestra una lista
        de filas como una tabla.
        """,
        en=r"""
        We import JAX, matplotlib and gradlab (`gl`). JAX computes in single precision
        (float32) by default; we switch on double precision (float64) so that the fine
        comparisons further down are meaningful. `show_table` shows a list of rows as a
        table.
        """,
    ),
    code(
        """
        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np
        from IPython.display import Markdown, display

        import gradlab as gl

        jax.config.update("jax_enable_x64", True)


        def show_table(rows):
            lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
            lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows[1:]]
            display(Markdown("\\n".join(lines)))
        """
    ),
    # -- 1. the data --------------------------------------------------------------------------
    md(
        es=r"""
        ## 1. Los datos

        Tomamos 100 puntos de la recta $y = 2x - 3$ y a cada uno le sumamos ruido: un
        número al azar con desviación estándar 0.25. Nosotros sabemos de qué recta salen;
        el modelo no. La tarea es recuperar la pendiente $m$ y la ordenada al origen $b$ a
        partir de los puntos. (`seed=0` fija el azar, así que todos vemos los mismos datos.)
        """,
        en=r"""
        ## 1. The data

        We take 100 points on the line $y = 2x - 3$ and add noise to each: a random number
        with standard deviation 0.25. We know which line they come from; the model does not.
        The task is to recover the slope $m$ and the intercept $b$ from the points alone.
        (`seed=0` fixes the randomness, so everyone sees the same data.)
        """,
    ),
    code(
        """
        data = gl.datasets.line(n=100, slope=2.0, intercept=-3.0, noise=0.25, seed=0)
        print("x:", data.x[:4])
        print("y:", data.y[:4])
        plt.scatter(data.x, data.y, s=10)
        plt.xlabel("x")
        plt.ylabel("y")
        plt.show()
        """
    ),
    # -- 2. the cost --------------------------------------------------------------------------
    md(
        es=r"""
        ## 2. La función de costo

        Una recta candidata queda determinada por dos números, $m$ y $b$. Para saber qué tan
        buena es, medimos su **error cuadrático medio** (MSE) sobre los datos:

        $$J(m, b) = \frac{1}{n}\sum_{i=1}^{n} \left(m\,x_i + b - y_i\right)^2 .$$

        Cuanto más bajo es el costo, mejor se ajusta la recta. Primero lo escribimos a mano
        con `jax.numpy`; después construimos el mismo costo con `gl.fit_cost`, que además
        guarda los datos, el intervalo de búsqueda de cada parámetro (`bounds`) y sus
        nombres. Lo evaluamos en la recta verdadera y en la recta horizontal $y = 0$.
        """,
        en=r"""
        ## 2. The cost function

        A candidate line is set by two numbers, $m$ and $b$. To tell how good it is, we
        measure its **mean squared error** (MSE) on the data:

        $$J(m, b) = \frac{1}{n}\sum_{i=1}^{n} \left(m\,x_i + b - y_i\right)^2 .$$

        The lower the cost, the better the line fits. We first write it by hand in
        `jax.numpy`, then build the same cost with `gl.fit_cost`, which also keeps the data,
        the search range of each parameter (`bounds`) and their names. We evaluate it on the
        true line and on the flat line $y = 0$.
        """,
    ),
    code(
        """
        def mse(m, b):
            return jnp.mean((m * data.x + b - data.y) ** 2)


        line = gl.fit_cost(gl.models.linear, data, bounds=[(-5.0, 5.0), (-5.0, 0.0)],
                           name="line", names=("m", "b"))
        print(f"J(2, -3) = {mse(2.0, -3.0):.6f} = {line(jnp.array([2.0, -3.0])):.6f}")
        print(f"J(0, 0)  = {mse(0.0, 0.0):.6f} = {line(jnp.array([0.0, 0.0])):.6f}")
        """
    ),
    md(
        es=r"""
        Las dos formas de calcularlo coinciden. Fíjate en que ni siquiera la recta verdadera
        tiene costo cero: por culpa del ruido, ninguna recta pasa por todos los puntos.
        """,
        en=r"""
        Both ways of computing it agree. Notice that not even the true line has zero cost:
        because of the noise, no line goes through every point.
        """,
    ),
    # -- 3. one parameter ---------------------------------------------------------------------
    md(
        es=r"""
        ## 3. Un solo parámetro: un barrido

        Si fijamos $b = -3$, el costo depende solo de $m$. La manera más directa de buscar
        el mejor $m$ es probar muchos valores —aquí 501, repartidos entre −5 y 5— y
        quedarnos con el más bajo: una búsqueda por fuerza bruta. `gl.grid_search` evalúa
        el costo en todos ellos de una sola vez; `nfev` cuenta las evaluaciones y `Δm` es la
        separación entre dos valores vecinos.
        """,
        en=r"""
        ## 3. One parameter: a sweep

        With $b = -3$ fixed, the cost depends on $m$ alone. The most direct way to find the
        best $m$ is to try many values — here 501, spread from −5 to 5 — and keep the lowest:
        a brute-force search. `gl.grid_search` evaluates the cost at all of them at once;
        `nfev` counts the evaluations and `Δm` is the gap between two neighbouring values.
        """,
    ),
    code(
        """
        b_fixed = -3.0
        slope_only = gl.fit_cost(lambda p, x: p[0] * x + b_fixed, data, bounds=[(-5.0, 5.0)],
                                 name="line, b = -3", names=("m",))
        sweep = gl.grid_search(slope_only, num=501)
        print(f"m = {float(sweep.x[0]):.4f}   J = {float(sweep.fun):.6f}   nfev = {sweep.nfev}")
        print(f"Δm = {float(sweep.axes[0][1] - sweep.axes[0][0]):.4f}")
        gl.plot.cost_curve(sweep, cost=slope_only, lang=LANG)
        plt.show()
        """
    ),
    md(
        es=r"""
        La curva es una parábola con un único punto más bajo. El barrido no puede ser más
        preciso que su separación `Δm`: para afinar, hay que probar más valores.
        """,
        en=r"""
        The curve is a parabola with a single lowest point. The sweep cannot be more precise
        than its spacing `Δm`: to do better, it must try more values.
        """,
    ),
    # -- 4. two parameters --------------------------------------------------------------------
    md(
        es=r"""
        ## 4. Dos parámetros: cuadrícula y mapa de calor

        Ahora dejamos libres $m$ y $b$. El barrido se convierte en una cuadrícula de
        200 × 200 rectas candidatas. El mapa de calor pinta el costo de cada una; las curvas
        de nivel unen los puntos de igual costo, como en un mapa topográfico, y el punto
        marcado es el mejor de la cuadrícula.
        """,
        en=r"""
        ## 4. Two parameters: a grid and a heat map

        Now $m$ and $b$ are both free. The sweep becomes a grid of 200 × 200 candidate lines.
        The heat map colours each by its cost; the contour lines join points of equal cost,
        as on a topographic map, and the marked point is the grid's best.
        """,
    ),
    code(
        """
        grid = gl.grid_search(line, num=200)
        print(f"(m, b) = ({grid.x[0]:.4f}, {grid.x[1]:.4f})   J = {float(grid.fun):.6f}"
              f"   nfev = {grid.nfev}")
        gl.plot.landscape(grid, cost=line, lang=LANG)
        plt.show()
        """
    ),
    md(
        es=r"""
        El número de evaluaciones crece muy rápido con los parámetros: con 200 valores por
        eje son 200² para dos parámetros, y serían 200¹⁰ para diez. Por eso la fuerza bruta
        solo sirve cuando hay pocos parámetros.
        """,
        en=r"""
        The number of evaluations grows very fast with the parameters: with 200 values per
        axis it is 200² for two parameters, and would be 200¹⁰ for ten. That is why brute
        force only works when there are few parameters.
        """,
    ),
    # -- 5. surface ---------------------------------------------------------------------------
    md(
        es=r"""
        ## 5. La superficie en 3D

        Los mismos valores, dibujados como una superficie: el costo tiene forma de tazón.
        Tiene un solo fondo, así que cualquier camino cuesta abajo termina en el mismo
        lugar. Recuerda esta imagen: más adelante aparecerá un costo muy distinto.
        """,
        en=r"""
        ## 5. The 3-D surface

        The same values, drawn as a surface: the cost is shaped like a bowl. It has a single
        bottom, so every downhill path ends in the same place. Keep this picture in mind: a
        very different cost comes later.
        """,
    ),
    code(
        """
        gl.plot.surface(grid, cost=line, stride=4, lang=LANG)
        plt.show()
        """
    ),
    # -- 6. exact -----------------------------------------------------------------------------
    md(
        es=r"""
        ## 6. La solución exacta

        Para este modelo no hace falta buscar: el mínimo de un costo cuadrático se calcula
        directamente (es el problema de **mínimos cuadrados**; gradlab lo resuelve con una
        descomposición SVD). Lo comparamos con el mejor punto de la cuadrícula: la última
        línea comprueba si la diferencia queda dentro de la separación de la cuadrícula en
        cada eje.
        """,
        en=r"""
        ## 6. The exact solution

        For this model there is no need to search: the minimum of a quadratic cost can be
        computed directly (it is the **least-squares** problem; gradlab solves it with an
        SVD). We compare it with the grid's best point: the last line checks whether the
        difference is within the grid's spacing on each axis.
        """,
    ),
    code(
        """
        exact = gl.solve_exact(line)
        spacing = np.array([float(axis[1] - axis[0]) for axis in grid.axes])
        print(f"(m, b) = ({exact.x[0]:.4f}, {exact.x[1]:.4f})   J = {float(exact.fun):.6f}")
        print("|grid - exact| =", np.abs(grid.x - exact.x), "  spacing =", spacing)
        print(np.all(np.abs(grid.x - exact.x) <= spacing))
        """
    ),
    md(
        es=r"""
        Entonces, ¿para qué buscar? Porque casi ningún modelo tiene una fórmula cerrada como
        esta. Basta con cambiar la recta por una curva como $\sin(w\,x)$ para perderla.
        Lo que sí tienen casi todos los costos es una derivada.
        """,
        en=r"""
        So why search at all? Because almost no model has a closed form like this one.
        Swapping the line for a curve such as $\sin(w\,x)$ is enough to lose it. What almost
        every cost does have is a derivative.
        """,
    ),
    # -- 7. gradient --------------------------------------------------------------------------
    md(
        es=r"""
        ## 7. El gradiente y su verificación

        El **gradiente** es el vector de las derivadas parciales del costo:

        $$\nabla J = \left(\frac{\partial J}{\partial m},\ \frac{\partial J}{\partial b}\right),
        \qquad
        \frac{\partial J}{\partial m} = \frac{2}{n}\sum_{i=1}^{n} \left(m\,x_i + b - y_i\right) x_i,
        \qquad
        \frac{\partial J}{\partial b} = \frac{2}{n}\sum_{i=1}^{n} \left(m\,x_i + b - y_i\right).$$

        Apunta hacia donde el costo sube más deprisa. Hay tres maneras de obtenerlo:
        derivando a mano (la fórmula de arriba, que escribimos como `mse_gradient`), con
        **diferenciación automática** (`jax.grad`, que deriva el propio código de la
        función de costo) y con **diferencias finitas** (evaluar el costo un poquito a cada
        lado del punto). Probamos las dos primeras en el punto $(m, b) = (-1, -2)$.
        """,
        en=r"""
        ## 7. The gradient, and checking it

        The **gradient** is the vector of the cost's partial derivatives:

        $$\nabla J = \left(\frac{\partial J}{\partial m},\ \frac{\partial J}{\partial b}\right),
        \qquad
        \frac{\partial J}{\partial m} = \frac{2}{n}\sum_{i=1}^{n} \left(m\,x_i + b - y_i\right) x_i,
        \qquad
        \frac{\partial J}{\partial b} = \frac{2}{n}\sum_{i=1}^{n} \left(m\,x_i + b - y_i\right).$$

        It points where the cost rises fastest. There are three ways to get it: by hand (the
        formula above, which we write as `mse_gradient`), by **automatic differentiation**
        (`jax.grad`, which differentiates the cost function's own code) and by **finite
        differences** (evaluating the cost a little to each side of the point). We try the
        first two at the point $(m, b) = (-1, -2)$.
        """,
    ),
    code(
        """
        def mse_gradient(p, data):
            r = p[0] * data.x + p[1] - data.y
            return jnp.stack([2 * jnp.mean(r * data.x), 2 * jnp.mean(r)])


        p = jnp.array([-1.0, -2.0])
        print("mse_gradient:", mse_gradient(p, data))
        print("jax.grad:    ", jax.grad(line)(p))
        """
    ),
    md(
        es=r"""
        `gl.check_gradient` hace la comparación completa en 8 puntos al azar dentro de los
        `bounds`: la fórmula a mano contra `jax.grad` (columna `analytic_rel_error`) y las
        diferencias finitas contra `jax.grad` (columna `fd_rel_error`). Cada número es el
        mayor error relativo en ese punto; `passed` dice si todos quedan por debajo de la
        tolerancia.
        """,
        en=r"""
        `gl.check_gradient` makes the full comparison at 8 random points inside the `bounds`:
        the hand-made formula against `jax.grad` (column `analytic_rel_error`) and finite
        differences against `jax.grad` (column `fd_rel_error`). Each number is the largest
        relative error at that point; `passed` says whether all of them are within
        tolerance.
        """,
    ),
    code(
        """
        line = line.replace(grad=mse_gradient)
        check = gl.check_gradient(line, n=8)
        show_table([["points", "analytic_rel_error", "fd_rel_error"]]
                   + [[np.round(x, 3).tolist(), f"{a:.1e}", f"{f:.1e}"] for x, a, f
                      in zip(check.points, check.analytic_rel_error, check.fd_rel_error)])
        print("passed =", check.passed)
        """
    ),
    md(
        es=r"""
        Los errores de la fórmula a mano son del tamaño del redondeo de float64: es
        correcta. Los de las diferencias finitas son mayores, porque son una aproximación;
        aun así bastan para detectar una fórmula equivocada. Un error muy común al derivar a
        mano es olvidar el 2 que baja del cuadrado:
        """,
        en=r"""
        The hand-made formula's errors are the size of float64 rounding: it is right. Those
        of finite differences are larger, because they are an approximation; still, they are
        enough to catch a wrong formula. A very common slip when differentiating by hand is
        to forget the 2 that comes down from the square:
        """,
    ),
    code(
        """
        def forgot_the_two(p, data):
            r = p[0] * data.x + p[1] - data.y
            return jnp.stack([jnp.mean(r * data.x), jnp.mean(r)])


        wrong = gl.check_gradient(line.replace(grad=forgot_the_two), n=8)
        print("passed =", wrong.passed)
        print(f"analytic_rel_error = {np.max(wrong.analytic_rel_error):.6f}")
        """
    ),
    md(
        es=r"""
        La verificación no pasa. Sin el 2, la fórmula da justo la mitad del gradiente
        verdadero, y por eso el error relativo es exactamente ½.
        """,
        en=r"""
        The check fails. Without the 2, the formula gives exactly half the true gradient, so
        the relative error is exactly ½.
        """,
    ),
    # -- 8. minus the gradient ----------------------------------------------------------------
    md(
        es=r"""
        ## 8. Cuesta abajo es menos el gradiente

        Si el gradiente apunta cuesta arriba, $-\nabla J$ apunta cuesta abajo. Las flechas
        muestran $-\nabla J$ en una malla de puntos sobre las curvas de nivel del costo:
        todas llevan hacia el fondo del tazón. La flecha resaltada es la del punto
        $(-1, -2)$, cuyo gradiente calculamos arriba.
        """,
        en=r"""
        ## 8. Downhill is minus the gradient

        If the gradient points uphill, $-\nabla J$ points downhill. The arrows show
        $-\nabla J$ on a mesh of points over the cost's contour lines: they all lead towards
        the bottom of the bowl. The highlighted arrow is at the point $(-1, -2)$, whose
        gradient we computed above.
        """,
    ),
    code(
        """
        field = gl.gradient_field(line, num=15, points=[[-1.0, -2.0]])
        gl.plot.gradient_field(field, grid=grid, cost=line, lang=LANG)
        plt.show()
        """
    ),
    # -- 9. descent ---------------------------------------------------------------------------
    md(
        es=r"""
        ## 9. Descenso de gradiente

        La idea del descenso: desde un punto de partida, dar un paso pequeño en contra del
        gradiente, y repetir:

        $$x \leftarrow x - \alpha\,\nabla f(x),$$

        donde $\alpha$ es la **tasa de aprendizaje**: el tamaño del paso. Para verlo con
        claridad usamos el tazón del curso, $f(m, b) = (m - 2)^2 + (b + 3)^2$, cuyo mínimo
        está en $(2, -3)$. Primero, el algoritmo escrito a mano: 50 pasos con
        $\alpha = 0.1$ desde $(-1, -1)$, todos los parámetros a la vez.
        """,
        en=r"""
        ## 9. Gradient descent

        The idea of descent: from a starting point, take a small step against the gradient,
        and repeat:

        $$x \leftarrow x - \alpha\,\nabla f(x),$$

        where $\alpha$ is the **learning rate**: the size of the step. To see it clearly we
        use the course's bowl, $f(m, b) = (m - 2)^2 + (b + 3)^2$, whose minimum is at
        $(2, -3)$. First, the algorithm written by hand: 50 steps with $\alpha = 0.1$ from
        $(-1, -1)$, all parameters at once.
        """,
    ),
    code(
        """
        bowl = gl.get_cost("bowl")
        x = jnp.array([-1.0, -1.0])
        for _ in range(50):
            x = x - 0.1 * jax.grad(bowl)(x)
        print("x =", x)
        """
    ),
    md(
        es=r"""
        `gl.descend` hace lo mismo en un solo bucle compilado y guarda la historia completa:
        cada punto (`xs`), cada costo (`fs`) y el tamaño de cada gradiente. Comprobamos que
        llega exactamente al mismo sitio que nuestro bucle; `message` explica cómo terminó.
        """,
        en=r"""
        `gl.descend` does the same in one compiled loop and keeps the whole history: every
        point (`xs`), every cost (`fs`) and the size of every gradient. We check that it ends
        exactly where our loop did; `message` says how it ended.
        """,
    ),
    code(
        """
        traj = gl.descend(bowl, [-1.0, -1.0], learning_rate=0.1, steps=50)
        print("traj.x =", traj.x, f"  f = {float(traj.fun):.2e}")
        print("np.allclose(traj.x, x) =", np.allclose(traj.x, x))
        print("message:", traj.message)
        gl.plot.history(traj, cost=bowl, lang=LANG)
        plt.show()
        """
    ),
    md(
        es=r"""
        El eje del costo es logarítmico: el costo baja en línea recta porque cada paso lo
        multiplica por el mismo factor. En cambio, $m$ y $b$ se acercan a sus valores
        finales cada vez más despacio, porque el paso es proporcional al gradiente, que se
        achica cerca del fondo. En este tazón, que se curva igual en todas las direcciones,
        el camino va en línea recta hacia el mínimo:
        """,
        en=r"""
        The cost axis is logarithmic: the cost falls in a straight line because every step
        multiplies it by the same factor. $m$ and $b$, on the other hand, approach their
        final values ever more slowly, because the step is proportional to the gradient,
        which shrinks near the bottom. On this bowl, which curves the same way in every
        direction, the path heads straight for the minimum:
        """,
    ),
    code(
        """
        bowl_grid = gl.grid_search(bowl, num=200)
        gl.plot.trajectories(bowl_grid, traj, labels=["α = 0.1"], cost=bowl, lang=LANG)
        plt.show()
        """
    ),
    # -- 10. learning rates -------------------------------------------------------------------
    md(
        es=r"""
        ## 10. La tasa de aprendizaje

        ¿Por qué no dar pasos más grandes? Volvemos al costo de la recta y lo descendemos
        con 30 tasas distintas desde el mismo punto, 100 pasos cada una, todas en una sola
        llamada (`gl.sweep_learning_rates`). Para un costo cuadrático la teoría da un
        límite: si $L$ es la mayor curvatura del costo (el mayor autovalor de su matriz
        hessiana), el descenso simple converge solo si $\alpha < 2/L$. gradlab calcula los
        dos números y marca el límite en la figura, donde cada tasa lleva el color de cómo
        terminó su descenso.
        """,
        en=r"""
        ## 10. The learning rate

        Why not take bigger steps? We go back to the line's cost and descend it with 30
        different rates from the same point, 100 steps each, all in one call
        (`gl.sweep_learning_rates`). For a quadratic cost, theory gives a limit: if $L$ is
        the cost's largest curvature (the largest eigenvalue of its Hessian matrix), plain
        descent converges only if $\alpha < 2/L$. gradlab computes both numbers and marks
        the limit in the figure, where each rate is coloured by how its run ended.
        """,
    ),
    code(
        """
        rate_sweep = gl.sweep_learning_rates(line, [-1.0, -1.0], jnp.logspace(-2, 0.2, 30),
                                             steps=100)
        print(f"L = {rate_sweep.curvature:.4g}   2/L = {rate_sweep.stability_limit:.4g}")
        gl.plot.learning_rates(rate_sweep, cost=line, lang=LANG)
        plt.show()
        """
    ),
    md(
        es=r"""
        Veamos los primeros 20 pasos con cuatro tasas elegidas como fracciones del límite
        $2/L$: muy pequeña (5 %), moderada (30 %), cerca del límite (90 %) y un poco por
        encima (105 %).
        """,
        en=r"""
        Here are the first 20 steps with four rates chosen as fractions of the limit $2/L$:
        very small (5%), moderate (30%), close to the limit (90%) and a little above it
        (105%).
        """,
    ),
    code(
        """
        limit = rate_sweep.stability_limit
        rates = [0.05 * limit, 0.3 * limit, 0.9 * limit, 1.05 * limit]
        runs = [gl.descend(line, [-1.0, -1.0], learning_rate=a, steps=20) for a in rates]
        for a, run in zip(rates, runs):
            print(f"α = {a:.3f}:", gl.Status(int(run.status)).name)
        gl.plot.trajectories(grid, runs, labels=[f"α = {a:.3f}" for a in rates], cost=line,
                             lang=LANG)
        plt.show()
        """
    ),
    md(
        es=r"""
        La tasa más pequeña avanza muy despacio; la moderada avanza bien; la cercana al
        límite zigzaguea de una ladera a otra del valle; la que lo supera se aleja cada vez más del
        mínimo: **diverge**. gradlab no lanza un error cuando eso ocurre: lo informa como un
        dato más, en `status` (`DIVERGED`). `MAX_STEPS`, en cambio, no es un fallo:
        significa que el descenso agotó sus pasos antes de llegar al mínimo.
        """,
        en=r"""
        The smallest rate crawls; the moderate one makes good progress; the one near
        the limit zig-zags from one side of the valley to the other; the one above it moves
        ever further from the minimum: it **diverges**. gradlab does not raise an error when
        that happens: it reports it as data, in `status` (`DIVERGED`). `MAX_STEPS`, on the
        other hand, is no failure: the descent used up its steps before reaching the minimum.
        """,
    ),
    # -- 11. sine -----------------------------------------------------------------------------
    md(
        es=r"""
        ## 11. Muchos mínimos locales

        Hasta aquí, un solo valle. Ahora ajustamos el modelo $y = \sin(w\,x)$ a 500 puntos
        de $\sin(10x)$: el único parámetro es la frecuencia $w$, que buscamos en
        $[0, 50]$. La respuesta correcta es, claro, $w = 10$. Pero mira la forma del costo
        en función de $w$.
        """,
        en=r"""
        ## 11. Many local minima

        So far, a single valley. Now we fit the model $y = \sin(w\,x)$ to 500 points of
        $\sin(10x)$: the only parameter is the frequency $w$, searched for in $[0, 50]$. The
        right answer is, of course, $w = 10$. But look at the shape of the cost as a function
        of $w$.
        """,
    ),
    code(
        """
        sine_data = gl.datasets.sine(n=500, w=10.0)
        sine = gl.fit_cost(gl.models.sine, sine_data, bounds=[(0.0, 50.0)], name="sine",
                           names=("w",))
        sine_curve = gl.grid_search(sine, num=2000)
        gl.plot.cost_curve(sine_curve, cost=sine, lang=LANG)
        plt.show()
        """
    ),
    md(
        es=r"""
        Cada valle es un **mínimo local**: en su fondo el gradiente es cero y cualquier paso
        pequeño hace subir el costo. Solo uno de ellos es el **mínimo global**. Un descenso
        que empieza en $w = 25$ baja al fondo del valle más cercano y se queda allí:
        """,
        en=r"""
        Each valley is a **local minimum**: at its bottom the gradient is zero and any small
        step raises the cost. Only one of them is the **global minimum**. A descent started
        at $w = 25$ goes down to the bottom of the nearest valley and stays there:
        """,
    ),
    code(
        """
        one = gl.descend(sine, [25.0], learning_rate=1.0, steps=200)
        print(f"w = {float(one.x[0]):.4f}   J = {float(one.fun):.4f}")
        """
    ),
    md(
        es=r"""
        Compara ese costo con el de la curva en $w = 10$. El descenso no se equivocó: hizo
        exactamente lo que sabe hacer, bajar. Pero el gradiente solo ve el terreno cercano y
        no puede avisarnos de que existe un valle más profundo en otra parte.
        """,
        en=r"""
        Compare that cost with the curve's at $w = 10$. The descent made no mistake: it did
        exactly what it knows how to do, go downhill. But the gradient only sees the nearby
        ground and cannot tell us that a deeper valley exists elsewhere.
        """,
    ),
    # -- 12. multistart -----------------------------------------------------------------------
    md(
        es=r"""
        ## 12. Muchos inicios a la vez

        Si un descenso puede quedar atrapado, lanzamos muchos: 1000 descensos desde valores
        de $w$ elegidos al azar en $[0, 50]$. `gl.multistart` los ejecuta todos juntos en una
        sola llamada compilada, agrupa los puntos finales que coinciden y clasifica cada uno
        según su curvatura (`kind`: `minimum` es un mínimo, `saddle` un punto de silla, que
        en una dimensión es un máximo, y `flat` una zona plana). En la tabla, `shares` es la
        fracción de inicios que terminó en cada mínimo e `is_global` marca el más bajo.
        `in_bounds` dice si el mínimo queda dentro de $[0, 50]$: los inicios están dentro,
        pero un descenso sin restricciones puede terminar un poco fuera.
        """,
        en=r"""
        ## 12. Many starts at once

        If one descent can get trapped, we launch many: 1000 descents from values of $w$
        drawn at random in $[0, 50]$. `gl.multistart` runs them all together in one compiled
        call, groups the end points that coincide and classifies each by its curvature
        (`kind`: `minimum`, `saddle` — in one dimension, a maximum — or `flat`). In the
        table, `shares` is the fraction of starts that ended at each minimum and `is_global`
        marks the lowest one. `in_bounds` says whether the minimum lies inside $[0, 50]$: the
        starts are inside, but a descent without constraints may end a little outside.
        """,
    ),
    code(
        """
        ms = gl.multistart(sine, n_starts=1000, seed=0)
        found = ms.minima
        show_table([["w", "J(w)", "kind", "is_global", "shares", "in_bounds"]]
                   + [[f"{w:.4f}", f"{v:.4f}", k, g, f"{s:.1%}", b] for w, v, k, g, s, b
                      in zip(found.points[:, 0], found.values, found.kind, found.is_global,
                             found.shares, found.in_bounds)])
        print("best =", ms.best, "  starts_for_99 =", ms.starts_for_99)
        """
    ),
    md(
        es=r"""
        El mínimo global recibe solo una parte de los inicios: los demás caen en cuencas de
        otros mínimos. Por eso hace falta lanzar muchos. `starts_for_99` dice cuántos
        inicios al azar bastan para encontrar el global con un 99 % de probabilidad. El
        mapa de cuencas muestra, para cada valor inicial de $w$, en qué mínimo termina su
        descenso.
        """,
        en=r"""
        The global minimum receives only some of the starts: the others fall into the
        basins of other minima. That is why we need many. `starts_for_99` says how many
        random starts are enough to find the global one with 99% probability. The basin map
        shows, for each starting value of $w$, at which minimum its descent ends.
        """,
    ),
    code(
        """
        gl.plot.basins(gl.basin_map(sine, num=1000), cost=sine, lang=LANG)
        plt.show()
        """
    ),
    # -- 13. fit ------------------------------------------------------------------------------
    md(
        es=r"""
        ## 13. Un ajuste con errores estándar

        Volvemos a la recta. Encontrar $m$ y $b$ no lo es todo: con otros 100 puntos
        ruidosos obtendríamos valores algo distintos. `gl.fit` ajusta el modelo por mínimos
        cuadrados (con el método de Levenberg–Marquardt, que usa el gradiente de cada
        residuo) y además estima cuánto podría variar cada parámetro: su **error estándar**
        (`stderr`) y un **intervalo de confianza** del 95 % (de `95% low` a `95% high`).
        """,
        en=r"""
        ## 13. A fit with standard errors

        Back to the line. Finding $m$ and $b$ is not the whole story: with another 100 noisy
        points we would get somewhat different values. `gl.fit` fits the model by least
        squares (with the Levenberg–Marquardt method, which uses the gradient of each
        residual) and also estimates how much each parameter could vary: its **standard
        error** (`stderr`) and a 95% **confidence interval** (from `95% low` to `95% high`).
        """,
    ),
    code(
        """
        fit = gl.fit(line, [0.0, 0.0])
        print("message:", fit.message)
        show_table(fit.table(line.param_names, level=0.95))
        """
    ),
    md(
        es=r"""
        ¿Contienen los intervalos a los valores verdaderos, $m = 2$ y $b = -3$? Lo
        comprobamos en lugar de suponerlo, y dibujamos la recta ajustada sobre los datos
        junto a la verdadera.
        """,
        en=r"""
        Do the intervals contain the true values, $m = 2$ and $b = -3$? We check instead of
        assuming, and draw the fitted line over the data next to the true one.
        """,
    ),
    code(
        """
        truth = np.array([2.0, -3.0])
        low, high = np.asarray(fit.conf_int(0.95)).T
        print("low <= truth <= high:", (low <= truth) & (truth <= high))
        gl.plot.fit(line, fit.x, true_params=truth, lang=LANG)
        plt.show()
        """
    ),
    # -- summary ------------------------------------------------------------------------------
    md(
        es=r"""
        ## Resumen

        - Una **función de costo** mide el error de un modelo; ajustar el modelo es buscar
          su mínimo.
        - Con uno o dos parámetros, una **cuadrícula** muestra todo el paisaje, pero su
          costo crece muy deprisa con el número de parámetros.
        - Algunos modelos, como la recta, tienen una **solución exacta** (mínimos
          cuadrados); la mayoría no.
        - El **gradiente** apunta cuesta arriba; conviene verificarlo contra `jax.grad` y
          las diferencias finitas.
        - El **descenso de gradiente** da pasos $-\alpha\,\nabla f$; con $\alpha$
          demasiado grande, diverge.
        - Si hay **mínimos locales**, un descenso puede quedar atrapado: muchos inicios al
          azar separan los locales del global.
        - Un buen ajuste dice también **cuánto confiar** en cada parámetro.

        Para seguir: `gradlab tour --lang es` cuenta la misma historia y escribe un informe
        con todas las figuras; los guiones de `examples/` muestran cada idea por separado.
        """,
        en=r"""
        ## Summary

        - A **cost function** measures a model's error; fitting the model means finding its
          minimum.
        - With one or two parameters, a **grid** shows the whole landscape, but its cost
          grows very fast with the number of parameters.
        - Some models, like the line, have an **exact solution** (least squares); most do
          not.
        - The **gradient** points uphill; check it against `jax.grad` and finite
          differences.
        - **Gradient descent** takes steps $-\alpha\,\nabla f$; with $\alpha$ too large, it
          diverges.
        - With **local minima**, one descent can get trapped: many random starts tell the
          local minima from the global one.
        - A good fit also says **how far to trust** each parameter.

        To go further: `gradlab tour --lang en` tells the same story and writes a report
        with every figure; the scripts in `examples/` show each idea on its own.
        """,
    ),
]
