"""The ``gradlab`` command line: argparse subcommands over the library; no numerics here.

User mistakes (an unknown cost or optimiser, a bad value, a file that would be
overwritten) print one readable line and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

OPTIMIZERS = ("sgd", "momentum", "adam", "lbfgs")
METHODS = ("exact", "grid", "descent", "multistart")


class UsageError(Exception):
    """A mistake on the command line: shown as one line, exit status 2."""


def _console():
    from rich.console import Console

    return Console()


def _table(title, header, rows):
    from rich.table import Table

    table = Table(title=title)
    for h in header:
        table.add_column(h)
    for r in rows:
        table.add_row(*[str(c) for c in r])
    return table


def _fmt(v, digits=6):
    return "[" + ", ".join(f"{float(x):.{digits}g}" for x in v) + "]"


def _load_cost(args):
    import gradlab as gl

    if getattr(args, "cost", None):
        module_name, _, attribute = args.cost.partition(":")
        if not module_name or not attribute:
            raise UsageError(f"--cost must look like package.module:attribute; got {args.cost!r}")
        try:
            module = importlib.import_module(module_name)  # an explicit import, never eval
        except ImportError as err:
            raise UsageError(f"--cost: cannot import {module_name!r}: {err}") from None
        if not hasattr(module, attribute):
            raise UsageError(f"--cost: module {module_name!r} has no attribute {attribute!r}")
        cost = getattr(module, attribute)
        cost = cost() if callable(cost) and not isinstance(cost, gl.Cost) else cost
        if not isinstance(cost, gl.Cost):
            raise UsageError(f"--cost: {args.cost} is not a gradlab.Cost (nor makes one)")
        return cost
    if not args.name:
        raise UsageError("name a cost (see `gradlab list`) or pass --cost package.module:attribute")
    return gl.get_cost(args.name)


def _optimizer(name, lr):
    import optax

    if name not in OPTIMIZERS:
        raise UsageError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    if name == "lbfgs":
        return optax.lbfgs() if lr is None else optax.lbfgs(learning_rate=lr)
    lr = 0.01 if lr is None else lr
    return {"sgd": lambda: optax.sgd(lr), "momentum": lambda: optax.sgd(lr, momentum=0.9),
            "adam": lambda: optax.adam(lr)}[name]()


def _new_file(path, overwrite):
    path = Path(path)
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; pass --overwrite to replace it")
    return path


# -- subcommands ---------------------------------------------------------------
def cmd_list(args):
    import gradlab as gl

    rows = []
    for c in gl.list_costs(dim=args.dim, tag=args.tag):
        minima = "; ".join(_fmt(m.x, 4) + f" → {m.f:.6g}" for m in c.minima)
        bounds = " × ".join(f"[{lo:g}, {hi:g}]" for lo, hi in c.bounds) if c.bounds else "-"
        rows.append([c.name, c.dim, bounds, minima or "-", ", ".join(sorted(c.tags))])
    _console().print(_table("registered costs", ["name", "dim", "bounds", "known minima", "tags"],
                            rows))


def cmd_check(args):
    import numpy as np

    import gradlab as gl

    cost = _load_cost(args)
    check = gl.check_gradient(cost, n=args.points, seed=args.seed)
    rows = []
    for i, p in enumerate(np.asarray(check.points)):
        analytic = "-" if check.analytic is None else _fmt(check.analytic[i], 5)
        rows.append([_fmt(p, 4), _fmt(check.autodiff[i], 5), analytic,
                     _fmt(check.finite_diff[i], 5), f"{float(check.fd_rel_error[i]):.1e}"])
    console = _console()
    console.print(_table(f"gradient check: {cost.name}", ["point", "jax.grad", "analytic",
                                                          "finite diff", "fd rel err"], rows))
    verdict = "[green]passed[/green]" if bool(check.passed) else "[red]FAILED[/red]"
    console.print(f"{verdict}: max relative error {float(check.max_rel_error):.2e}")
    return 0 if bool(check.passed) else 1


def cmd_minimize(args):
    import jax
    import numpy as np

    import gradlab as gl

    cost = _load_cost(args)
    console = _console()
    t0 = time.perf_counter()
    plot_ax = None
    if args.method == "exact":
        r = gl.solve_exact(cost)
        console.print(f"exact: x = {_fmt(r.x)}, cost = {float(r.fun):.6g} ({r.message})")
    elif args.method == "grid":
        r = gl.grid_search(cost, num=args.num, polish=args.polish)
        console.print(f"grid ({r.nfev} points): x = {_fmt(r.x)}, cost = {float(r.fun):.6g}")
        if args.plot and cost.dim in (1, 2):
            plot_ax = (gl.plot.cost_curve if cost.dim == 1 else gl.plot.landscape)(r, cost=cost)
    elif args.method == "descent":
        if cost.dim is None and args.x0 is None:
            raise UsageError("--x0 is needed for a cost without bounds")
        x0 = np.asarray(args.x0 if args.x0 is not None else np.mean(cost.bounds, axis=1), float)
        if args.optimizer is None and args.lr is not None:
            r = gl.descend(cost, x0, learning_rate=args.lr, steps=args.steps)
        else:
            r = gl.descend(cost, x0, optimizer=_optimizer(args.optimizer or "lbfgs", args.lr),
                           steps=args.steps)
        console.print(f"descent from {_fmt(x0)}: x = {_fmt(r.x)}, cost = {float(r.fun):.6g}, "
                      f"{int(r.nit)} steps, {r.message}")
        if args.plot and cost.dim == 2:
            plot_ax = gl.plot.trajectories(gl.grid_search(cost, num=150), r, cost=cost)
        elif args.plot:
            plot_ax = gl.plot.history(r, cost=cost)[0]
    else:
        opt = None if args.optimizer is None else _optimizer(args.optimizer, args.lr)
        r = gl.multistart(cost, n_starts=args.starts, seed=args.seed, optimizer=opt,
                          steps=args.steps)
        m = r.minima
        rows = [[_fmt(p), f"{v:.6g}", k, "yes" if g else "", f"{s:.1%}"]
                for p, v, k, g, s in zip(m.points, m.values, m.kind, m.is_global, m.shares)]
        console.print(_table(f"{len(m.points)} distinct minima from {args.starts} starts",
                             ["x", "cost", "kind", "global", "share"], rows[:30]))
        console.print(f"unconverged: {r.unlabelled_share:.1%}; starts for 99% confidence: "
                      f"{r.starts_for_99:.0f}")
        if args.plot and cost.dim in (1, 2):
            plot_ax = gl.plot.basins(gl.basin_map(cost, num=200 if cost.dim == 1 else 60),
                                     cost=cost)
    jax.block_until_ready(r)
    console.print(f"[dim]{time.perf_counter() - t0:.2f} s[/dim]")
    if args.plot:
        if plot_ax is None:
            raise UsageError(f"no figure for --method {args.method} on a {cost.dim}-D cost")
        path = _new_file(args.plot, args.overwrite)
        plot_ax.figure.savefig(path, dpi=100, bbox_inches="tight")
        console.print(f"figure written to {path}")


def cmd_landscape(args):
    import gradlab as gl

    cost = _load_cost(args)
    if cost.dim not in (1, 2):
        raise UsageError(f"landscape draws 1- or 2-parameter costs; {cost.name!r} has {cost.dim}")
    out = _new_file(args.out or f"{cost.name}.png", args.overwrite)
    grid = gl.grid_search(cost, num=args.num)
    ax = (gl.plot.cost_curve if cost.dim == 1 else gl.plot.landscape)(grid, cost=cost)
    ax.figure.savefig(out, dpi=100, bbox_inches="tight")
    written = [out]
    if args.animate:
        if cost.dim != 2:
            raise UsageError("--animate needs a 2-parameter cost")
        import optax

        x0 = [lo + 0.1 * (hi - lo) for lo, hi in cost.bounds]
        traj = gl.descend(cost, x0, optimizer=optax.adam(0.05 * max(hi - lo for lo, hi in
                                                                    cost.bounds)), steps=100)
        gif = _new_file(out.with_suffix(".gif"), args.overwrite)
        written.append(gl.plot.animate(grid, traj, gif, cost=cost, overwrite=args.overwrite))
    _console().print("written: " + ", ".join(map(str, written)))


def cmd_tour(args):
    from rich.progress import Progress

    from gradlab.report import run_tour

    console = _console()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("tour", total=11)

        def step(title):
            progress.update(task, description=title, advance=1)

        tour = run_tour(args.out, quick=args.quick, overwrite=args.overwrite, progress=step)
    for s in tour.sections:
        console.print(f"[bold]{s.title}[/bold]  {s.text}")
        if s.table:
            console.print(_table(None, s.table[0], s.table[1:]))
    console.print(f"\n{len(tour.figures)} figures, report.md and report.html written to "
                  f"{tour.out}/ in {tour.seconds:.1f} s")


def cmd_bench(args):
    if Path("benchmarks/run.py").exists() and "" not in sys.path:
        sys.path.insert(0, "")  # the console script does not put the checkout on the path
    try:
        bench = importlib.import_module("benchmarks.run")
    except ImportError:
        raise UsageError("the benchmarks live in the source checkout: run gradlab bench from "
                         "the repository root") from None
    return bench.main(quick=args.quick, out=args.out, only=args.only, overwrite=args.overwrite)


# -- the parser ------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gradlab", description="A laboratory for "
                                     "gradient-based optimisation in JAX.")
    parser.add_argument("--float32", action="store_true",
                        help="compute in float32 (default: float64)")
    sub = parser.add_subparsers(dest="command", required=True)

    def with_cost(p):
        p.add_argument("name", nargs="?", help="a registered cost (see `gradlab list`)")
        p.add_argument("--cost", help="your own cost: package.module:attribute (a Cost)")
        return p

    p = sub.add_parser("tour", help="the whole course story, with figures and a report")
    p.add_argument("--out", default="gradlab-tour", help="folder to write (default gradlab-tour)")
    p.add_argument("--quick", action="store_true", help="smaller sizes (CI)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty folder")
    p.set_defaults(run=cmd_tour)

    p = sub.add_parser("list", help="the registered costs")
    p.add_argument("--dim", type=int)
    p.add_argument("--tag")
    p.set_defaults(run=cmd_list)

    p = with_cost(sub.add_parser("check", help="gradient check: jax.grad, analytic, finite diff"))
    p.add_argument("--points", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(run=cmd_check)

    p = with_cost(sub.add_parser("minimize", help="minimise a cost by one of four methods"))
    p.add_argument("--method", choices=METHODS, default="descent")
    p.add_argument("--optimizer", help=f"one of {', '.join(OPTIMIZERS)}")
    p.add_argument("--lr", type=float, help="learning rate")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--starts", type=int, default=1000)
    p.add_argument("--num", type=int, default=200, help="grid points per axis")
    p.add_argument("--polish", action="store_true", help="polish the grid's best point")
    p.add_argument("--x0", type=float, nargs="+", help="start (descent)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", help="write a figure to this file")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_minimize)

    p = with_cost(sub.add_parser("landscape", help="the figures of one cost"))
    p.add_argument("--out", help="PNG to write (default NAME.png)")
    p.add_argument("--num", type=int, default=200)
    p.add_argument("--animate", action="store_true", help="also a GIF of a descent")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_landscape)

    p = sub.add_parser("bench", help="the benchmarks (from a source checkout)")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default="gradlab-bench")
    p.add_argument("--only", help="run one study")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=cmd_bench)
    return parser


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


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    import jax

    jax.config.update("jax_enable_x64", not args.float32)
    import matplotlib

    matplotlib.use("Agg")
    from gradlab import parallel

    try:  # several processes when launched as several (README: "Many devices, many hosts")
        several = parallel.initialize()
    except (ValueError, ConnectionError) as err:
        print(f"gradlab {args.command}: error: {err}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if several and not parallel.is_main_process():
            _hide_output(args, stack)
        try:
            code = args.run(args)
        except (UsageError, ValueError, TypeError, FileExistsError, TimeoutError) as err:
            print(f"gradlab {args.command}: error: {err}", file=sys.stderr)
            return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
