"""The ``gradlab`` command line: argparse subcommands over the library; no numerics here.

What every command guarantees (each line is a test in ``tests/test_cli*.py``):

- A user mistake (a bad or conflicting option, a size over the memory budget,
  a ``--cost`` module that cannot be loaded, an output that cannot be written)
  prints one line on stderr and exits with status 2, before anything is
  computed; never a traceback. The commands and options are `gradlab._cli_parser`'s;
  the checks live in `gradlab._cli_checks`.
- Every output is named and checked before any computation, and written
  atomically through `gradlab._files`: nothing is overwritten without
  ``--overwrite``, nothing is written through a symlink.
- Ctrl-C prints ``gradlab: interrupted`` and exits with 130 at once (SIGTERM:
  143, SIGHUP: 129), leaving no partial file (`gradlab._cli_signals`).
- Every value printed through rich is text, never markup (a cost named ``[/]``
  or ``[link=...]`` prints as it is written): `gradlab._cli_output`, which also
  plans every output path.
- Compiled programs are kept in the user's cache folder (`gradlab._cache`;
  ``--no-cache``, ``--cache-dir``); a cache folder that cannot be used costs
  one line on stderr, never the command (``tests/test_cache.py``).
- ``gradlab fit`` (`gradlab._cli_fit`) reads the user's CSV file
  (`gradlab._csvdata`) and fits a curve of `gradlab.curves`; a mistake in the
  file (line and column named) or in the user's model is one line and exit
  status 2, before any fit; a fit that does not converge exits with 1
  (``tests/test_fit_cli.py``).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

from gradlab import _cache, _files, _i18n
from gradlab._cli_checks import (
    FIGURE_METHODS,
    DataError,
    UsageError,
    check_cost_choice,
    check_descent_size,
    check_grid_size,
    check_minimize_options,
    check_points_size,
    check_starts_size,
    import_cost,
    need_bounds,
    to_cli_words,
)
from gradlab._cli_fit import cmd_fit
from gradlab._cli_output import (
    SHOWN_ROWS,
    as_text,
    figure_writer,
    fmt_vector,
    new_console,
    plain_table,
    plan_output,
)
from gradlab._cli_parser import OPTIMIZERS, build_parser, parse
from gradlab._cli_signals import signals_end_the_command

__all__ = ["UsageError", "build_parser", "console", "main"]


# -- what each command needs, checked before it computes --------------------------------------
def _load_cost(args):
    import gradlab as gl

    check_cost_choice(args.name, args.cost)
    return import_cost(args.cost) if args.cost else gl.get_cost(args.name)


def _itemsize() -> int:
    import jax.numpy as jnp

    return jnp.dtype(jnp.result_type(float)).itemsize


def _optimizer(name, lr):
    import optax

    if name == "lbfgs":
        return optax.lbfgs() if lr is None else optax.lbfgs(learning_rate=lr)
    lr = 0.01 if lr is None else lr
    return {"sgd": lambda: optax.sgd(lr), "momentum": lambda: optax.sgd(lr, momentum=0.9),
            "adam": lambda: optax.adam(lr)}[name]()


# -- subcommands ---------------------------------------------------------------------------------
def cmd_list(args):
    import gradlab as gl

    costs = gl.list_costs(dim=args.dim, tag=args.tag)
    if not costs:  # a tag mistyped, or a size no cost has: say what there is
        _nothing_listed(gl.list_costs(), args.dim, args.tag)
    rows = []
    for c in costs:
        minima = "; ".join(fmt_vector(m.x, 4) + f" → {m.f:.6g}" for m in c.minima)
        bounds = " × ".join(f"[{lo:g}, {hi:g}]" for lo, hi in c.bounds) if c.bounds else "-"
        rows.append([c.name, c.dim, bounds, minima or "-", ", ".join(sorted(c.tags))])
    header = ["name", "dim", "bounds", "known minima", "tags"]
    new_console().print(plain_table("registered costs", header, rows, limit=None))


def _nothing_listed(every, dim, tag) -> NoReturn:
    tags = sorted({t for c in every for t in c.tags})
    if tag is not None and tag not in tags:
        raise UsageError(f"--tag: no registered cost is tagged {tag!r}; the tags are "
                         f"{', '.join(tags)}")
    tagged = [c for c in every if tag is None or tag in c.tags]
    which = "no registered cost" + ("" if tag is None else f" tagged {tag!r}")
    dims = ", ".join(str(d) for d in sorted({c.dim for c in tagged}))
    raise UsageError(f"--dim: {which} has {dim} parameter{'' if dim == 1 else 's'}; "
                     f"{'they' if tag is None else 'those'} have {dims}")


def cmd_check(args):
    import numpy as np

    import gradlab as gl

    cost = _load_cost(args)
    need_bounds(cost, "gradlab check (random points are drawn inside them)")
    check_points_size(cost, args.points)
    check = gl.check_gradient(cost, n=args.points, seed=args.seed)
    rows = []
    for i, p in enumerate(np.asarray(check.points)[:SHOWN_ROWS]):
        analytic = "-" if check.analytic is None else fmt_vector(check.analytic[i], 5)
        rows.append([fmt_vector(p, 4), fmt_vector(check.autodiff[i], 5), analytic,
                     fmt_vector(check.finite_diff[i], 5), f"{float(check.fd_rel_error[i]):.1e}"])
    console = new_console()
    console.print(plain_table(f"gradient check: {cost.name}", ["point", "jax.grad", "analytic",
                                                          "finite diff", "fd rel err"], rows,
                         total=args.points))
    verdict = "[green]passed[/green]" if bool(check.passed) else "[red]FAILED[/red]"
    console.print(f"{verdict}: max relative error {as_text(f'{float(check.max_rel_error):.2e}')}")
    return 0 if bool(check.passed) else 1


def _plan_minimize(args, cost):
    """Check what the method needs of the cost, the sizes and the figure's path; return it."""
    method = args.method
    if method == "exact" and cost.dim is None:
        raise UsageError(f"--method exact needs a cost of known dimension; {cost.name!r} has "
                         "no bounds, minima or parameter names")
    if method in ("grid", "multistart"):
        need_bounds(cost, f"--method {method}")
    if method == "grid":
        check_grid_size(cost, args.num, drawn=args.plot is not None)
    if method == "descent":
        if args.x0 is None and cost.bounds is None:
            raise UsageError(f"--x0 is needed: {cost.name!r} has no bounds to start from")
        if args.x0 is not None and cost.dim is not None and len(args.x0) != cost.dim:
            raise UsageError(f"--x0 needs {cost.dim} values (one per parameter of "
                             f"{cost.name!r}); got {len(args.x0)}")
        check_descent_size(args.steps, cost.dim or len(args.x0), _itemsize(),
                           drawn=args.plot is not None)
    if method == "multistart":
        check_starts_size(cost, args.starts, _itemsize())
    if args.plot is None:
        return None
    dims = FIGURE_METHODS[method]
    if dims is not None and cost.dim not in dims:
        raise UsageError(f"--plot: --method {method} draws costs of 1 or 2 parameters; "
                         f"{cost.name!r} has {cost.dim}")
    return plan_output("--plot", args.plot, overwrite=args.overwrite,
                        default_name=f"{_files.safe_name(cost.name)}-{method}")


# A run this long shows a progress bar on a terminal by itself (--progress: always).
# Below, the bar's host callbacks would cost more than they tell, and a program
# with callbacks is not kept in the compilation cache.
LONG_RUN = {"grid": 10**7, "descent": 10**5, "multistart": 10**6}  # points, steps, starts×steps


@contextlib.contextmanager
def _progress(args, work: int):
    """A rich progress bar on stderr fed from inside the compiled loop, or None."""
    if not (args.progress or (work >= LONG_RUN[args.method] and sys.stderr.isatty())):
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

    with Progress("{task.description}", BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(args.method, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _descend(args, cost, x0, progress):
    """``gl.descend`` as ``minimize --method descent`` asks for it; without a progress bar,
    through a kept program (`gradlab._programs`: the cost and optimiser named, not a
    user's)."""
    import gradlab as gl
    from gradlab import _programs

    plain = args.optimizer is None and args.lr is not None  # --lr alone: plain gradient descent
    name = None if plain else args.optimizer or "lbfgs"
    make = None if plain else lambda: _optimizer(name, args.lr)
    rate = args.lr if plain else None
    if progress is not None or args.cost:
        return gl.descend(cost, x0, optimizer=make and make(), learning_rate=rate,
                          steps=args.steps, progress=progress)
    # the optimiser is made only if the program is traced: a kept one is loaded without optax
    return _programs.descend(getattr(args, "programs", None), cost, x0,
                             call={"optimizer": name, "lr": args.lr}, make_optimizer=make,
                             learning_rate=rate, steps=args.steps)


def cmd_minimize(args):
    import jax
    import numpy as np

    import gradlab as gl

    if args.optimizer is not None and args.optimizer not in OPTIMIZERS:
        raise UsageError(f"unknown --optimizer {args.optimizer!r}; choose one of "
                         f"{', '.join(OPTIMIZERS)}")
    check_minimize_options(args)
    cost = _load_cost(args)
    plot_path = _plan_minimize(args, cost)
    console = new_console()
    t0 = time.perf_counter()
    plot_ax = None
    if args.method == "exact":
        r = gl.solve_exact(cost)
        console.print(f"exact: x = {as_text(fmt_vector(r.x))}, cost = {float(r.fun):.6g} "
                      f"({as_text(r.message)})")
    elif args.method == "grid":
        with _progress(args, args.num ** cost.dim) as progress:
            r = gl.grid_search(cost, num=args.num, polish=args.polish,
                               keep_values=bool(plot_path), progress=progress)
        console.print(f"grid ({r.nfev} points): x = {as_text(fmt_vector(r.x))}, "
                      f"cost = {as_text(f'{float(r.fun):.6g}')}")
        if plot_path:
            plot_ax = (gl.plot.cost_curve if cost.dim == 1 else gl.plot.landscape)(r, cost=cost)
    elif args.method == "descent":
        x0 = np.asarray(args.x0 if args.x0 is not None else np.mean(cost.bounds, axis=1), float)
        with _progress(args, args.steps) as progress:
            r = _descend(args, cost, x0, progress)
        console.print(f"descent from {as_text(fmt_vector(x0))}: x = {as_text(fmt_vector(r.x))}, "
                      f"cost = {as_text(f'{float(r.fun):.6g}')}, {int(r.nit)} steps, "
                      f"{as_text(r.message)}")
        if plot_path and cost.dim == 2 and cost.bounds is not None:
            plot_ax = gl.plot.trajectories(gl.grid_search(cost, num=150), r, cost=cost)
        elif plot_path:
            plot_ax = gl.plot.history(r, cost=cost)[0]
    else:
        if args.optimizer is not None:
            opt = _optimizer(args.optimizer, args.lr)
        else:  # --lr alone is plain gradient descent, as for --method descent
            import optax

            opt = None if args.lr is None else optax.sgd(args.lr)
        with _progress(args, args.starts * args.steps) as progress:
            r = gl.multistart(cost, n_starts=args.starts, seed=args.seed, optimizer=opt,
                              steps=args.steps, progress=progress)
        m = r.minima
        rows = [[fmt_vector(p), f"{v:.6g}", k, "yes" if g else "", f"{s:.1%}"]
                for p, v, k, g, s in zip(m.points, m.values, m.kind, m.is_global, m.shares)]
        console.print(plain_table(f"{len(m.points)} distinct minima from {args.starts} starts",
                             ["x", "cost", "kind", "global", "share"], rows))
        console.print(f"unconverged: {r.unlabelled_share:.1%}; starts for 99% confidence: "
                      f"{r.starts_for_99:.0f}")
        if plot_path:
            plot_ax = gl.plot.basins(gl.basin_map(cost, num=200 if cost.dim == 1 else 60),
                                     cost=cost)
    jax.block_until_ready(r)
    console.print(f"[dim]{time.perf_counter() - t0:.2f} s[/dim]")
    if plot_path:
        _files.write_files(figure_writer(plot_ax.figure, plot_path),
                           overwrite=args.overwrite)
        console.print(f"figure written to {as_text(plot_path)}")


def cmd_landscape(args):
    import optax

    import gradlab as gl

    cost = _load_cost(args)
    if cost.dim not in (1, 2):
        raise UsageError(f"landscape draws costs of 1 or 2 parameters; {cost.name!r} has "
                         f"{cost.dim}")
    need_bounds(cost, "landscape")
    if args.animate and cost.dim != 2:
        raise UsageError(f"--animate needs a 2-parameter cost; {cost.name!r} has {cost.dim}")
    check_grid_size(cost, args.num, drawn=True)
    out = plan_output("--out", "." if args.out is None else args.out, overwrite=args.overwrite,
                       default_name=_files.safe_name(cost.name))
    writers = {}
    if args.animate:  # the GIF is checked with the PNG, before anything is computed
        gif = plan_output("--out", out.with_suffix(".gif"), default_name=None,
                           overwrite=args.overwrite, suffix=".gif", allowed=(".gif",))
    grid = gl.grid_search(cost, num=args.num)
    ax = (gl.plot.cost_curve if cost.dim == 1 else gl.plot.landscape)(grid, cost=cost)
    writers.update(figure_writer(ax.figure, out))
    if args.animate:
        x0 = [lo + 0.1 * (hi - lo) for lo, hi in cost.bounds]
        widest = max(hi - lo for lo, hi in cost.bounds)
        traj = gl.descend(cost, x0, optimizer=optax.adam(0.05 * widest), steps=100)
        writers[gif] = lambda tmp: gl.plot._write_gif(grid, traj, tmp, cost=cost)
    written = _files.write_files(writers, overwrite=args.overwrite)  # together, or not at all
    new_console().print("written: " + ", ".join(as_text(p) for p in written))


def cmd_tour(args):
    from rich.progress import Progress

    from gradlab import _budget, _programs, costs
    from gradlab.report import TOUR_COSTS, run_tour

    console = new_console()
    # the tour's programs are gradlab's own: kept whole, keyed by its options (_programs.keeping),
    # unless a program calling main has registered costs of its own under the tour's names
    builtin = all(costs.is_builtin(costs.get_cost(name)) for name in TOUR_COSTS)
    options = {"command": "tour", "quick": args.quick, "lang": args.lang,
               "memory_budget": _budget.memory_budget()}
    store = getattr(args, "programs", None) if builtin else None
    with (Progress(console=console, transient=True, disable=not console.is_terminal) as progress,
          _programs.keeping(store, options)):
        task = progress.add_task("tour", total=11)

        def step(title):
            progress.update(task, description=as_text(title), advance=1)

        tour = run_tour(args.out, quick=args.quick, overwrite=args.overwrite, progress=step,
                        lang=args.lang)
    for s in tour.sections:
        console.print(f"[bold]{as_text(s.title)}[/bold]  {as_text(s.text)}")
        if s.table:
            console.print(plain_table(None, s.table[0], s.table[1:]))
    console.print("\n" + as_text(_i18n.text(args.lang, "tour.done", n_figures=len(tour.figures),
                                          out=tour.out, seconds=tour.seconds)))


def cmd_bench(args):
    try:  # the folder is judged before the benchmarks run (they write it themselves)
        out = _files.check_folder(args.out, overwrite=args.overwrite)
    except OSError as err:
        raise UsageError(f"--out: {err}") from None
    if Path("benchmarks/run.py").exists() and "" not in sys.path:
        sys.path.insert(0, "")  # the console script does not put the checkout on the path
    try:
        bench = importlib.import_module("benchmarks.run")
    except ImportError:
        raise UsageError("the benchmarks live in the source checkout: run gradlab bench from "
                         "the repository root") from None
    if out.is_symlink():  # refused above unless --overwrite: replace the link, not its target
        _files.make_folder(out)
    return bench.main(quick=args.quick, out=out, only=args.only, overwrite=args.overwrite)


COMMANDS = {"tour": cmd_tour, "list": cmd_list, "check": cmd_check, "minimize": cmd_minimize,
            "landscape": cmd_landscape, "fit": cmd_fit, "bench": cmd_bench}


# -- running a command ---------------------------------------------------------------------------
def _hide_output(args, stack: contextlib.ExitStack) -> None:
    """On processes other than 0, which compute but do not show: nothing on stdout (not even
    XLA's own lines), and the files they write go to a scratch folder deleted at the end."""
    sys.stdout.flush()
    null, saved = stack.enter_context(open(os.devnull, "w")), os.dup(1)
    os.dup2(null.fileno(), 1)
    stack.callback(os.close, saved)
    stack.callback(os.dup2, saved, 1)
    stack.callback(sys.stdout.flush)
    scratch = stack.enter_context(tempfile.TemporaryDirectory())
    for name in ("out", "plot"):
        if getattr(args, name, None):
            setattr(args, name, str(Path(scratch, Path(getattr(args, name)).name)))
    if args.command == "landscape" and args.out is None:  # its default name, in the scratch
        args.out = scratch


def _draw_without_a_screen() -> None:
    """Figures are drawn into files (Agg), without importing matplotlib before it is needed."""
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    else:
        os.environ["MPLBACKEND"] = "Agg"  # read by matplotlib when a command imports it


def _error_line(command: str, err: BaseException) -> str:
    """One line for a user's mistake, in the command line's words (a `DataError` quotes the
    user's own words: it is shown as written)."""
    if isinstance(err, OSError) and err.strerror:  # the operating system's own error
        text = f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    else:
        text = str(err)
    text = " ".join(text.split())
    if not isinstance(err, DataError):
        text = to_cli_words(text, command)
    return _files.printable(f"gradlab {command}: error: {text}")


def main(argv=None) -> int:
    """Run ``gradlab`` with ``argv`` (default: the process's); return the exit status."""
    with signals_end_the_command():
        args = parse(argv)
        try:
            import jax

            from gradlab import _programs, parallel

            _draw_without_a_screen()
            # several processes when launched as several (README: "Many devices, many hosts")
            several = parallel.initialize()
            with jax.enable_x64(not args.float32), contextlib.ExitStack() as stack:
                if several and not parallel.is_main_process():
                    _hide_output(args, stack)  # only process 0 shows and writes
                folder = stack.enter_context(_cache.for_command(  # benchmarks time compiling
                    cache_dir=args.cache_dir, no_cache=args.no_cache or args.command == "bench"))
                args.programs = None if folder is None or several else _programs.Store(folder)
                return COMMANDS[args.command](args) or 0
        except KeyboardInterrupt:  # only when no watcher runs (main called from a thread)
            _files.discard_pending()
            print("gradlab: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `gradlab list | head`: the reader left; nothing to say
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        except (UsageError, ValueError, TypeError, OSError, TimeoutError) as err:
            print(_error_line(args.command, err), file=sys.stderr)
            return 2


def console() -> NoReturn:
    """The ``gradlab`` console script: `main` on the process's arguments, then leave at once.

    Once a command has answered, tearing the interpreter down (JAX's runtime and
    thousands of objects) took another 0.3 s. Nothing is lost by skipping it: the
    files are whole on disk (written atomically), the output is flushed here, and
    the exit handlers still run (JAX's among them: it leaves a multi-process run
    cleanly). `main` itself returns, for programs that call it.
    """
    code = main()  # (argparse's --help and mistakes exit in there, before JAX is loaded)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader gone, a stream closed
            stream.flush()
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)  # CPython's, since 3.0
    if run_exit_handlers is None:
        sys.exit(code)
    run_exit_handlers()  # logging's flush among them
    os._exit(code)


if __name__ == "__main__":
    console()
