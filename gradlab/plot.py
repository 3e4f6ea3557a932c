"""Every figure of gradlab, drawn from the records the solvers return.

Each function takes records (`GridResult`, `Trajectory`, `MultiStart`, ...),
an optional matplotlib ``ax``, and returns the Axes it drew on; none calls
``show()`` and none recomputes anything. Pass ``cost=`` to label axes with the
cost's parameter names and title, and ``lang="es"`` for titles and labels in
Spanish (`gradlab._i18n`; English by default). matplotlib is imported on first use, so
``import gradlab`` stays light. A record of the wrong type (a `Trajectory`
where a `GridResult` is expected, ...) is refused with a `TypeError` that names
the argument, before anything is drawn.

Example:
  >>> import gradlab as gl
  >>> ax = gl.plot.landscape(gl.grid_search("bowl", num=50), cost=gl.get_cost("bowl"))
  >>> ax.get_xlabel(), ax.get_ylabel()
  ('m', 'b')
"""

from __future__ import annotations

import numpy as np

from gradlab import _i18n
from gradlab.result import Status, Trajectory

GLOBAL_COLOUR, LOCAL_COLOUR, PATH_COLOUR = "#d62728", "#ff7f0e", "white"
STATUS_COLOURS = {"CONVERGED": "tab:green", "MAX_STEPS": "tab:orange", "DIVERGED": "tab:red",
                  "NONFINITE": "black"}  # any other status gets a colour of its own


def _records():
    """The record classes, imported late (grid and multistart import this package's solvers)."""
    from gradlab.costs import Cost
    from gradlab.grid import GradientField, GridResult
    from gradlab.multistart import BasinMap
    from gradlab.sweep import LearningRateSweep

    return {"GridResult": GridResult, "Trajectory": Trajectory, "GradientField": GradientField,
            "BasinMap": BasinMap, "LearningRateSweep": LearningRateSweep, "Cost": Cost}


def _expect(function: str, name: str, value, *kinds: str, optional: bool = False) -> None:
    """Refuse ``value`` unless it is one of the record types named by ``kinds``."""
    if optional and value is None:
        return
    records = _records()
    if isinstance(value, tuple(records[k] for k in kinds)):
        return
    wanted = " or ".join(f"a gradlab {k}" for k in kinds) + (" or None" if optional else "")
    raise TypeError(f"{function}: {name} must be {wanted}; got {_kind(value)}")


def _kind(value) -> str:
    """How an error message names what it received: its type."""
    return "None" if value is None else f"a {type(value).__name__}"


def _expect_trajectories(function: str, name: str, value) -> None:
    """One `Trajectory` (single or batched) or a list/tuple of them."""
    runs = value if isinstance(value, list | tuple) else [value]
    if not runs:
        raise ValueError(f"{function}: {name} is empty; give at least one Trajectory")
    for i, run in enumerate(runs):
        _expect(function, name if run is value else f"{name}[{i}]", run, "Trajectory")


def _words(lang):
    """``words(key, **values)``: the catalogue's text in ``lang`` (checked first)."""
    _i18n.check_language(lang)
    return lambda key, **values: _i18n.text(lang, key, **values)


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _axes(ax, projection=None):
    if ax is not None:
        return ax
    fig = _plt().figure(figsize=(6.4, 4.8))
    return fig.add_subplot(projection=projection)


def _names(cost, dim):
    if cost is not None and cost.dim == dim:
        return cost.param_names
    return tuple(f"x{i}" for i in range(dim))


def _title(ax, cost, text):
    ax.set_title(f"{cost.name}: {text}" if cost is not None else text)


def _np(a):
    return np.asarray(a)


def cost_curve(grid, *, ax=None, cost=None, label=None, lang="en"):
    """The 1-parameter sweep: cost against the parameter, its minimum marked."""
    _expect("cost_curve", "grid", grid, "GridResult")
    _expect("cost_curve", "cost", cost, "Cost", optional=True)
    if len(grid.axes) != 1:
        raise ValueError(f"cost_curve needs a 1-parameter grid; got {len(grid.axes)} axes")
    if grid.values is None:
        raise ValueError("cost_curve needs the grid's values: run grid_search(keep_values=True)")
    t = _words(lang)
    ax = _axes(ax)
    (name,) = _names(cost, 1)
    ax.plot(_np(grid.axes[0]), _np(grid.values), label=label or t("plot.cost"))
    ax.plot(_np(grid.x)[0], float(grid.fun), "o", color=GLOBAL_COLOUR,
            label=t("plot.minimum_at", name=name, value=float(grid.x[0])))
    ax.set_xlabel(name)
    ax.set_ylabel(t("plot.cost"))
    ax.legend()
    _title(ax, cost, t("plot.sweep"))
    return ax


def _mark_known(ax, cost, label):
    if cost is None or not cost.minima or cost.dim != 2:
        return
    known = np.array([m.x for m in cost.minima])
    ax.plot(known[:, 0], known[:, 1], "x", color="black", markersize=9, mew=2, label=label)


def landscape(grid, *, ax=None, cost=None, levels: int = 30, log: bool = False,
              known_minima: bool = True, lang="en"):
    """Heat map and contours of a 2-parameter grid, its minimum marked (and the known ones)."""
    _expect("landscape", "grid", grid, "GridResult")
    _expect("landscape", "cost", cost, "Cost", optional=True)
    if len(grid.axes) != 2 or grid.values is None:
        raise ValueError("landscape needs a 2-parameter grid with values (keep_values=True)")
    t = _words(lang)
    ax = _axes(ax)
    x, y = _np(grid.axes[0]), _np(grid.axes[1])
    z = _np(grid.values).T  # values are indexed [i_x, i_y]; images want rows = y
    if log:
        finite = z[np.isfinite(z)]
        z = np.log10(z - finite.min() + 1e-6 * max(np.ptp(finite), 1e-300))
    mesh = ax.pcolormesh(x, y, z, shading="auto", cmap="viridis")
    ax.contour(x, y, z, levels=levels, colors="white", linewidths=0.5, alpha=0.6)
    ax.figure.colorbar(mesh, ax=ax, label=t("plot.log_cost") if log else t("plot.cost"))
    ax.plot(*_np(grid.x), "o", color=GLOBAL_COLOUR, label=t("plot.grid_minimum"))
    if known_minima:
        _mark_known(ax, cost, t("plot.known_minima"))
    names = _names(cost, 2)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.legend(loc="upper right", fontsize="small")
    _title(ax, cost, t("plot.landscape"))
    return ax


def surface(grid, *, trajectory=None, ax=None, cost=None, stride: int = 1, lang="en"):
    """The 3-D surface of a 2-parameter grid, with an optional descent path lifted onto it."""
    _expect("surface", "grid", grid, "GridResult")
    _expect("surface", "trajectory", trajectory, "Trajectory", optional=True)
    _expect("surface", "cost", cost, "Cost", optional=True)
    if len(grid.axes) != 2 or grid.values is None:
        raise ValueError("surface needs a 2-parameter grid with values (keep_values=True)")
    t = _words(lang)
    ax = _axes(ax, projection="3d")
    x, y = np.meshgrid(_np(grid.axes[0]), _np(grid.axes[1]), indexing="ij")
    ax.plot_surface(x[::stride, ::stride], y[::stride, ::stride],
                    _np(grid.values)[::stride, ::stride], cmap="viridis", alpha=0.8,
                    linewidth=0)
    if trajectory is not None:
        xs = _np(trajectory.xs)
        ax.plot(xs[:, 0], xs[:, 1], _np(trajectory.fs), "o-", color=GLOBAL_COLOUR,
                markersize=3, label=t("plot.descent"))
        # a fixed corner: "best" measures the surface's every polygon in 2-D (matplotlib
        # warns that it is slow, and over a second it is on a busy machine)
        ax.legend(loc="upper left")
    names = _names(cost, 2)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_zlabel(t("plot.cost"))
    _title(ax, cost, t("plot.surface"))
    return ax


def gradient_field(field, *, grid=None, ax=None, cost=None, lang="en"):
    """Quiver of −∇f over the landscape, and the normalised arrow of −∇f at each chosen point."""
    _expect("gradient_field", "field", field, "GradientField")
    _expect("gradient_field", "grid", grid, "GridResult", optional=True)
    _expect("gradient_field", "cost", cost, "Cost", optional=True)
    if len(field.axes) != 2:
        raise ValueError("gradient_field draws 2-parameter costs only")
    t = _words(lang)
    ax = _axes(ax)
    if grid is not None:
        landscape(grid, ax=ax, cost=cost, known_minima=False, lang=lang)
    x, y = np.meshgrid(_np(field.axes[0]), _np(field.axes[1]), indexing="ij")
    g = -_np(field.gradients)
    norm = np.linalg.norm(g, axis=-1, keepdims=True)
    unit = g / np.where(norm > 0, norm, 1.0)
    ax.quiver(x, y, unit[..., 0], unit[..., 1], color="white", alpha=0.7,
              label=t("plot.minus_gradient"))
    span = max(float(np.ptp(_np(field.axes[0]))), float(np.ptp(_np(field.axes[1]))))
    for p, gp in zip(_np(field.points), -_np(field.point_gradients)):
        direction = gp / max(np.linalg.norm(gp), 1e-300) * 0.15 * span
        ax.annotate("", xy=p + direction, xytext=p,
                    arrowprops=dict(arrowstyle="-|>", color=GLOBAL_COLOUR, lw=2.5))
        ax.plot(*p, "o", color=GLOBAL_COLOUR)
        ax.text(*(p + 0.02 * span), f"-∇f({p[0]:g}, {p[1]:g})", color="white", fontsize=9)
    names = _names(cost, 2)
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    _title(ax, cost, t("plot.steepest"))
    return ax


def history(trajectory, *, axes=None, cost=None, truth=None, lang="en"):
    """Cost and each parameter against the step; ``truth`` (or the cost's minimum) dashed.

    Returns an array of Axes: the cost first, then one per parameter.
    """
    _expect("history", "trajectory", trajectory, "Trajectory")
    _expect("history", "cost", cost, "Cost", optional=True)
    t = _words(lang)
    xs, fs = _np(trajectory.xs), _np(trajectory.fs)
    if xs.ndim != 2:
        raise ValueError("history draws one trajectory; index a batched one first")
    d = xs.shape[1]
    if axes is None:
        fig = _plt().figure(figsize=(4 * (d + 1), 3.6))
        axes = np.array([fig.add_subplot(1, d + 1, k + 1) for k in range(d + 1)])
    if truth is None and cost is not None and cost.minima:
        truth = cost.minima[0].x
    steps = np.arange(len(fs))
    axes[0].plot(steps, fs)
    axes[0].set_yscale("log" if np.all(fs > 0) else "linear")
    axes[0].set_xlabel(t("plot.record"))
    axes[0].set_ylabel(t("plot.cost"))
    for k, name in enumerate(_names(cost, d)):
        axes[k + 1].plot(steps, xs[:, k], label=name)
        if truth is not None:
            axes[k + 1].axhline(truth[k], ls="--", color="grey",
                                label=t("plot.true_value", name=name))
        axes[k + 1].set_xlabel(t("plot.record"))
        axes[k + 1].set_ylabel(name)
        axes[k + 1].legend()
    status = _i18n.status_word(lang, Status(int(trajectory.status)))
    _title(axes[0], cost, t("plot.descent_status", status=status))
    axes[0].figure.tight_layout()
    return axes


def _as_list(trajectories):
    if isinstance(trajectories, list | tuple):
        return list(trajectories)
    xs = _np(trajectories.xs)
    if xs.ndim == 2:
        return [trajectories]
    # on host copies: indexing a device array per field and run is one small program each
    fields = {k: _np(getattr(trajectories, k)) for k in trajectories.__dataclass_fields__}
    return [type(trajectories)(**{k: v[i] for k, v in fields.items()}) for i in range(len(xs))]


def trajectories(grid, trajectories, *, labels=None, ax=None, cost=None, lang="en"):
    """One or many descent paths over the contour (e.g. optimisers or learning rates)."""
    _expect("trajectories", "grid", grid, "GridResult")
    _expect_trajectories("trajectories", "trajectories", trajectories)
    _expect("trajectories", "cost", cost, "Cost", optional=True)
    t = _words(lang)
    ax = landscape(grid, ax=ax, cost=cost, log=True, lang=lang)
    runs = _as_list(trajectories)
    labels = labels or [None] * len(runs)
    colours = _plt().get_cmap("tab10")
    for k, (run, label) in enumerate(zip(runs, labels)):
        xs = _np(run.xs)
        ax.plot(xs[:, 0], xs[:, 1], ".-", color=colours(k % 10), lw=1.5, markersize=3,
                label=label)
        ax.plot(*xs[0], "s", color=colours(k % 10), markersize=5)
    x, y = _np(grid.axes[0]), _np(grid.axes[1])
    ax.set_xlim(x.min(), x.max())
    ax.set_ylim(y.min(), y.max())
    ax.legend(loc="upper right", fontsize="small")
    _title(ax, cost, t("plot.paths"))
    return ax


def basins(basin_map, *, ax=None, cost=None, lang="en"):
    """The basin map: each start coloured by the minimum it reached; global minima starred."""
    _expect("basins", "basin_map", basin_map, "BasinMap")
    _expect("basins", "cost", cost, "Cost", optional=True)
    t = _words(lang)
    ax = _axes(ax)
    minima = basin_map.run.minima
    labels = np.asarray(basin_map.labels)
    k = max(len(minima.points), 1)
    cmap = _plt().get_cmap("tab20", k)
    shown = np.ma.masked_less(labels, 0)
    if labels.ndim == 2:
        x, y = _np(basin_map.axes[0]), _np(basin_map.axes[1])
        ax.pcolormesh(x, y, shown.T, cmap=cmap, vmin=-0.5, vmax=k - 0.5, shading="auto")
        pts = minima.points
        inside = ((pts[:, 0] >= x.min()) & (pts[:, 0] <= x.max())
                  & (pts[:, 1] >= y.min()) & (pts[:, 1] <= y.max()))
        glob = minima.is_global & inside
        ax.plot(pts[glob, 0], pts[glob, 1], "*", color="white", mec="black", ms=16,
                label=t("plot.global_minimum"))
        ax.plot(pts[~minima.is_global & inside, 0], pts[~minima.is_global & inside, 1], "o",
                color="white", mec="black", label=t("plot.local_minimum"))
        names = _names(cost, 2)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
    else:
        w = _np(basin_map.axes[0])
        ax.scatter(w, np.where(labels >= 0, _np(minima.points[:, 0])[labels], np.nan), c=shown,
                   cmap=cmap, vmin=-0.5, vmax=k - 0.5, s=12)
        ax.plot(w, w, color="grey", lw=0.5, label=t("plot.start_end"))
        glob = minima.points[minima.is_global, 0]
        ax.axhline(glob[0], color=GLOBAL_COLOUR, ls="--", label=t("plot.global_minimum"))
        (name,) = _names(cost, 1)
        ax.set_xlabel(t("plot.start", name=name))
        ax.set_ylabel(t("plot.end", name=name))
    ax.legend(loc="upper left", fontsize="small")
    _title(ax, cost, t("plot.basins", count=len(minima.points)))
    return ax


def learning_rates(sweep, *, ax=None, cost=None, lang="en"):
    """Final cost against learning rate, coloured by status, the stability limit 2/L marked."""
    _expect("learning_rates", "sweep", sweep, "LearningRateSweep")
    _expect("learning_rates", "cost", cost, "Cost", optional=True)
    t = _words(lang)
    ax = _axes(ax)
    rates, final = _np(sweep.learning_rates), _np(sweep.trajectories.fun)
    status = np.asarray(sweep.status)
    ax.plot(rates, final, "-", color="grey", lw=0.8)
    for code in Status:  # every status the library has, new ones included
        chosen = status == code
        if chosen.any():
            ax.plot(rates[chosen], final[chosen], "o", color=STATUS_COLOURS.get(code.name),
                    label=_i18n.status_word(lang, code))
    if np.isfinite(sweep.stability_limit):
        ax.axvline(sweep.stability_limit, ls="--", color="tab:red",
                   label=f"2/L = {sweep.stability_limit:.3g}")
    ax.set_xscale("log")
    ax.set_yscale("log" if np.all(final > 0) else "symlog")
    ax.set_xlabel(t("plot.learning_rate"))
    ax.set_ylabel(t("plot.final_cost"))
    ax.legend(fontsize="small")
    _title(ax, cost, t("plot.rate_sweep"))
    return ax


def fit(cost, params=None, *, true_params=None, model=None, ax=None, labels=None, lang="en"):
    """The data points, the true model (dashed) and each fitted model."""
    _expect("fit", "cost", cost, "Cost")
    if cost.data is None or (model is None and not hasattr(cost.fn, "model")):
        raise ValueError(f"fit: cost {cost.name!r} is not a fit to data; give a cost made by "
                         "gradlab.fit_cost (or its data and model=)")
    t = _words(lang)
    ax = _axes(ax)
    x, y = _np(cost.data.x), _np(cost.data.y)
    model = model or cost.fn.model
    order = np.argsort(x)
    ax.plot(x, y, ".", color="grey", alpha=0.6, label=t("plot.data"))
    if true_params is not None:
        ax.plot(x[order], _np(model(np.asarray(true_params), x))[order], "--", color="black",
                label=t("plot.true_model"))
    params = [] if params is None else ([params] if np.ndim(params[0]) == 0 else list(params))
    labels = labels or [t("plot.fit", params=np.round(np.asarray(p), 3).tolist()) for p in params]
    for p, label in zip(params, labels):
        ax.plot(x[order], _np(model(np.asarray(p), x))[order], lw=2, label=label)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.legend(fontsize="small")
    _title(ax, cost, t("plot.data_and_model"))
    return ax


SHOWN_POINTS = 20_000  # fit_residuals draws at most this many data points (evenly taken)


def fit_residuals(cost, fit, *, sigma=None, labels=("x", "y"), title=None, lang="en"):
    """The data (with error bars ``sigma``), the fitted curve on a fine grid of ``x``, and
    the residuals ``y − model`` in a panel below; returns the upper Axes.

    ``cost`` is the `fit_cost` that ``fit`` (a `gradlab.Fit` of one start) was fitted to.
    Past `SHOWN_POINTS` data points, an even selection of them is drawn, and the legend
    says so.
    """
    import jax

    _expect("fit_residuals", "cost", cost, "Cost")
    if cost.data is None or not hasattr(cost.fn, "model"):
        raise ValueError(f"fit_residuals: cost {cost.name!r} is not a fit to data; give the "
                         "cost made by gradlab.fit_cost that the fit was fitted to")
    t = _words(lang)
    model = jax.jit(cost.fn.model)
    x, y, p = _np(cost.data.x), _np(cost.data.y), _np(fit.x)
    residuals = y - _np(model(p, x))
    fig = _plt().figure(figsize=(6.4, 5.6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    shown = np.arange(x.size)
    label = t("plot.data")
    if x.size > SHOWN_POINTS:
        shown = np.linspace(0, x.size - 1, SHOWN_POINTS).round().astype(int)
        label = t("plot.data_shown", shown=SHOWN_POINTS, total=x.size)
    s = None if sigma is None else _np(sigma)[shown]
    for ax, values in ((top, y), (bottom, residuals)):
        if s is None:
            ax.plot(x[shown], values[shown], ".", color="grey", alpha=0.7, ms=4, label=label)
        else:
            ax.errorbar(x[shown], values[shown], yerr=s, fmt=".", color="grey", alpha=0.7,
                        ms=4, elinewidth=0.8, label=label)
    grid = np.linspace(x.min(), x.max(), max(1000, min(20 * x.size, 20_000)))
    top.plot(grid, _np(model(p, grid)), lw=2, color="tab:blue", label=t("plot.fitted"))
    bottom.axhline(0.0, color="tab:blue", lw=1)
    top.set_ylabel(labels[1])
    top.legend(fontsize="small")
    top.set_title(title if title is not None else t("plot.data_and_model"))
    bottom.set_xlabel(labels[0])
    bottom.set_ylabel(t("plot.residuals"))
    return top


def animate(grid, trajectory, path, *, cost=None, fps: int = 10, max_frames: int = 40,
            overwrite: bool = False):
    """Save a GIF of a descent walking over the landscape (at most ``max_frames`` frames).

    ``path`` without an extension gets ``.gif``. It is checked before anything is
    drawn (an existing file, symlink or folder there is refused unless
    ``overwrite``) and written atomically: a temporary file in the same folder,
    renamed into place, so an error or interruption leaves nothing half-written
    and a symlink at ``path`` is replaced, never written through.

    Returns:
      The `pathlib.Path` written.
    """
    from gradlab import _files

    _expect("animate", "grid", grid, "GridResult")
    _expect("animate", "trajectory", trajectory, "Trajectory")
    _expect("animate", "cost", cost, "Cost", optional=True)
    path = _files.check_output(_files.output_path(path, suffix=".gif", allowed=(".gif",)),
                               overwrite=overwrite)
    return _files.write_atomically(
        path, lambda tmp: _write_gif(grid, trajectory, tmp, cost=cost, fps=fps,
                                     max_frames=max_frames), overwrite=overwrite)


def _write_gif(grid, trajectory, path, *, cost=None, fps: int = 10, max_frames: int = 40):
    """Draw the animation and save it to ``path`` as given: the file is the caller's to check.

    `animate` (and the CLI, which writes a PNG and a GIF together) call it
    through `gradlab._files`, on a temporary path.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    ax = landscape(grid, cost=cost, log=True)
    try:
        xs = _np(trajectory.xs)
        (line,) = ax.plot([], [], ".-", color=PATH_COLOUR, lw=2)

        def frame(i):
            line.set_data(xs[: i + 1, 0], xs[: i + 1, 1])
            return (line,)

        shown = np.unique(np.linspace(0, len(xs) - 1, min(len(xs), max_frames)).astype(int))
        anim = FuncAnimation(ax.figure, frame, frames=shown, blit=True)
        anim.save(path, writer=PillowWriter(fps=fps))
    finally:
        _plt().close(ax.figure)
