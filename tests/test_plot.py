"""Every figure, drawn on Agg: not blank, and the expected artists present."""

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
import pytest

import gradlab as gl


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _not_blank(ax):
    fig = ax.figure
    fig.canvas.draw()
    pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(float)
    assert pixels.std() > 10, "the figure looks blank"


@pytest.fixture(scope="module")
def bowl_grid():
    return gl.grid_search("bowl", num=40)


@pytest.fixture(scope="module")
def bowl_traj():
    return gl.descend("bowl", [-1.0, -1.0], learning_rate=0.1, steps=30)


def test_cost_curve():
    sine = gl.get_cost("sine")
    ax = gl.plot.cost_curve(gl.grid_search(sine, num=300), cost=sine)
    assert ax.get_xlabel() == "w" and ax.get_ylabel() == "cost" and len(ax.lines) == 2
    _not_blank(ax)


def test_landscape_has_colourbar_contours_and_known_minima(bowl_grid):
    bowl = gl.get_cost("bowl")
    ax = gl.plot.landscape(bowl_grid, cost=bowl)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("m", "b")
    assert len(ax.figure.axes) == 2  # the colour bar
    assert ax.collections and "known minima" in [t.get_text() for t in ax.get_legend().texts]
    _not_blank(ax)


def test_surface_with_path(bowl_grid, bowl_traj):
    ax = gl.plot.surface(bowl_grid, trajectory=bowl_traj, cost=gl.get_cost("bowl"))
    assert ax.name == "3d" and ax.get_zlabel() == "cost" and len(ax.lines) == 1
    _not_blank(ax)


def test_gradient_field_arrows(bowl_grid):
    field = gl.gradient_field("bowl", num=10, points=[[-1.0, -2.0]])
    ax = gl.plot.gradient_field(field, grid=bowl_grid, cost=gl.get_cost("bowl"))
    from matplotlib.quiver import Quiver
    assert any(isinstance(c, Quiver) for c in ax.collections)
    assert len(ax.texts) >= 1  # the arrow's label
    _not_blank(ax)


def test_history_panels_with_true_values(bowl_traj):
    axes = gl.plot.history(bowl_traj, cost=gl.get_cost("bowl"))
    assert len(axes) == 3 and axes[1].get_ylabel() == "m"
    assert any(line.get_linestyle() == "--" for line in axes[1].lines)
    _not_blank(axes[0])


def test_trajectories_of_several_optimisers():
    rosen = gl.get_cost("rosenbrock")
    runs = [gl.descend(rosen, [-1.2, 1.0], optimizer=o, steps=50)
            for o in (optax.adam(0.05), optax.sgd(1e-3))]
    ax = gl.plot.trajectories(gl.grid_search(rosen, num=40), runs, labels=["adam", "sgd"],
                              cost=rosen)
    labels = [t.get_text() for t in ax.get_legend().texts]
    assert "adam" in labels and "sgd" in labels
    _not_blank(ax)


def test_basins_2d_and_1d():
    ax = gl.plot.basins(gl.basin_map("himmelblau", num=15), cost=gl.get_cost("himmelblau"))
    assert ax.collections and "global minimum" in [t.get_text() for t in ax.get_legend().texts]
    _not_blank(ax)
    ax = gl.plot.basins(gl.basin_map("sine", num=40), cost=gl.get_cost("sine"))
    assert ax.get_xlabel() == "start w"
    _not_blank(ax)


def test_learning_rates_marks_the_stability_limit():
    sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], jnp.logspace(-2, 0.2, 8), steps=50)
    ax = gl.plot.learning_rates(sweep, cost=gl.get_cost("bowl"))
    assert any("2/L" in t.get_text() for t in ax.get_legend().texts)
    _not_blank(ax)


def test_fit_shows_data_truth_and_fit():
    line = gl.get_cost("line")
    ax = gl.plot.fit(line, [gl.solve_exact(line).x], true_params=[2.0, -3.0])
    assert len(ax.lines) == 3
    _not_blank(ax)


def test_animation_is_a_gif_and_never_overwrites(tmp_path, bowl_grid, bowl_traj):
    path = tmp_path / "descent.gif"
    gl.plot.animate(bowl_grid, bowl_traj, path)
    assert path.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    with pytest.raises(FileExistsError):
        gl.plot.animate(bowl_grid, bowl_traj, path)


def test_plot_needs_the_right_record():
    with pytest.raises(ValueError, match="2-parameter"):
        gl.plot.landscape(gl.grid_search("sine", num=10))
    with pytest.raises(ValueError, match="keep_values"):
        gl.plot.cost_curve(gl.grid_search("sine", num=10, keep_values=False))


def test_importing_gradlab_does_not_import_matplotlib():
    import subprocess
    import sys
    code = "import sys, gradlab; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.fixture(scope="module")
def records(bowl_grid, bowl_traj):
    """One record of each kind, to hand to the plot functions that expect another."""
    return {"grid": bowl_grid, "trajectory": bowl_traj,
            "multistart": gl.multistart("bowl", n_starts=8, seed=0),
            "field": gl.gradient_field("bowl", num=5),
            "cost": gl.get_cost("bowl"), "array": np.zeros((3, 3))}


# (plot function, its positional arguments (record names), the start of the message)
WRONG_RECORDS = [
    ("landscape", ["trajectory"], "grid must be a gradlab GridResult; got a Trajectory"),
    ("cost_curve", ["multistart"], "grid must be a gradlab GridResult; got a MultiStart"),
    ("surface", ["array"], "grid must be a gradlab GridResult; got a ndarray"),
    ("history", ["grid"], "trajectory must be a gradlab Trajectory; got a GridResult"),
    ("basins", ["multistart"], "basin_map must be a gradlab BasinMap; got a MultiStart"),
    ("learning_rates", ["trajectory"], "sweep must be a gradlab LearningRateSweep; got a Traj"),
    ("gradient_field", ["grid"], "field must be a gradlab GradientField; got a GridResult"),
    ("trajectories", ["grid", "grid"], "trajectories must be a gradlab Trajectory; got a Grid"),
    ("trajectories", ["trajectory", "trajectory"], "grid must be a gradlab GridResult"),
    ("animate", ["grid", "multistart", "array"], "trajectory must be a gradlab Trajectory"),
    ("fit", ["grid"], "cost must be a gradlab Cost; got a GridResult"),
]


@pytest.mark.parametrize(("function", "args", "message"), WRONG_RECORDS)
def test_a_wrong_record_is_a_type_error_naming_the_argument(records, tmp_path, function, args,
                                                            message):
    before = plt.get_fignums()
    values = [records[a] if a in records else a for a in args]
    if function == "animate":
        values[2] = tmp_path / "x.gif"
    with pytest.raises(TypeError, match=f"^{function}: {message}"):
        getattr(gl.plot, function)(*values)
    assert plt.get_fignums() == before  # refused before anything was drawn
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("keyword", "value", "message"), [
    ("cost", "bowl", "cost must be a gradlab Cost or None; got a str"),
    ("trajectory", [1, 2], "trajectory must be a gradlab Trajectory or None; got a list"),
])
def test_a_wrong_keyword_record_is_refused_too(records, keyword, value, message):
    with pytest.raises(TypeError, match=message):
        gl.plot.surface(records["grid"], **{keyword: value})


def test_a_list_of_trajectories_names_the_bad_item(records):
    with pytest.raises(TypeError, match=r"trajectories\[1\] must be a gradlab Trajectory"):
        gl.plot.trajectories(records["grid"], [records["trajectory"], records["grid"]])


def test_fit_needs_a_cost_fitted_to_data():
    with pytest.raises(ValueError, match="not a fit to data"):
        gl.plot.fit(gl.get_cost("bowl"))


def test_learning_rates_draws_every_status_generically():
    sweep = gl.sweep_learning_rates("bowl", [-1.0, -1.0], [0.1, 1.5], steps=30)
    ax = gl.plot.learning_rates(sweep)
    labels = {t.get_text() for t in ax.get_legend().texts}
    assert {gl.Status(int(s)).name.lower() for s in sweep.status} <= labels


def test_animate_completes_the_extension_and_replaces_a_symlink(tmp_path, bowl_grid, bowl_traj):
    target = tmp_path / "theirs.gif"
    target.write_bytes(b"theirs")
    (tmp_path / "run.gif").symlink_to(target)
    with pytest.raises(FileExistsError, match="symbolic link"):
        gl.plot.animate(bowl_grid, bowl_traj, tmp_path / "run", max_frames=3)
    written = gl.plot.animate(bowl_grid, bowl_traj, tmp_path / "run", max_frames=3,
                              overwrite=True)
    assert written == tmp_path / "run.gif" and not written.is_symlink()
    assert written.read_bytes()[:3] == b"GIF" and target.read_bytes() == b"theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.gif", "theirs.gif"]
