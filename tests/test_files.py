"""gradlab._files: final paths decided first, checked before any work, written atomically."""

import os

import pytest

from gradlab import _files

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


@pytest.mark.parametrize(("given", "kwargs", "final"), [
    ("q", {}, "q.png"),                                   # no extension: completed
    ("q.", {}, "q.png"),
    ("fig.PDF", {}, "fig.PDF"),                           # a known one, any case: kept
    ("a/b/c.svg", {}, "a/b/c.svg"),
    ("run", {"suffix": ".gif", "allowed": (".gif",)}, "run.gif"),
    ("out/", {"default_name": "bowl"}, "out/bowl.png"),   # a folder: the default name inside
])
def test_output_path_decides_the_final_name_first(given, kwargs, final):
    assert str(_files.output_path(given, **kwargs)) == final


def test_output_path_treats_an_existing_folder_as_a_folder(tmp_path):
    assert _files.output_path(tmp_path, default_name="x") == tmp_path / "x.png"
    with pytest.raises(_files.OutputError, match="is a folder; give a file name"):
        _files.output_path(tmp_path)


@pytest.mark.parametrize(("given", "message"), [
    ("", "empty"),
    ("results.v2", "not a format gradlab writes"),
    ("anim.gif", "not a format gradlab writes"),          # a GIF is not a figure format
])
def test_output_path_refuses_what_it_cannot_write(given, message):
    with pytest.raises(_files.OutputError, match=message):
        _files.output_path(given)


@pytest.mark.parametrize(("name", "safe"), [
    ("bowl", "bowl"), ("../x", "_x"), ("/abs/path", "_abs_path"), ("a/b", "a_b"),
    ("..", "cost"), ("", "cost"), ("///", "cost"), ("[link=x]y", "_link_x_y"),
    ("line (b fixed)", "line_b_fixed_"), ("α-bowl", "α-bowl"), ("a\nb\x1b[31m", "a_b_31m"),
])
def test_safe_name_stays_in_the_folder(name, safe):
    assert _files.safe_name(name) == safe


def test_safe_name_cuts_long_names_on_a_character_boundary():
    name = _files.safe_name("é" * 300)
    assert len(name.encode()) <= _files.NAME_BYTES and set(name) == {"é"}


# -- checks before any work --------------------------------------------------------------------
def _plant(tmp_path):
    """A file, a symlink to it, a dangling symlink and a folder, as a user may have them."""
    (tmp_path / "mine.png").write_text("mine")
    (tmp_path / "link.png").symlink_to(tmp_path / "mine.png")
    (tmp_path / "dangling.png").symlink_to(tmp_path / "elsewhere.png")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file").write_text("a file, not a folder")


@pytest.mark.parametrize(("name", "overwrite", "error", "message"), [
    ("mine.png", False, FileExistsError, "exists; pass overwrite=True"),
    ("link.png", False, FileExistsError, "symbolic link"),
    ("dangling.png", False, FileExistsError, "symbolic link"),
    ("folder.png", False, _files.OutputError, "is a folder"),
    ("folder.png", True, _files.OutputError, "is a folder"),   # never replaced
    ("missing/x.png", True, _files.OutputError, "does not exist"),
    ("file/x.png", True, _files.OutputError, "Not a directory"),
    ("x" * 300 + ".png", True, _files.OutputError, "too long"),
])
def test_check_output_refuses(tmp_path, name, overwrite, error, message):
    _plant(tmp_path)
    with pytest.raises(error, match=message):
        _files.check_output(tmp_path / name, overwrite=overwrite)


@pytest.mark.parametrize("path", ["/proc/gradlab-test.png", "/proc/self/gradlab-test.png",
                                  "/sys/gradlab-test.png"])
def test_check_output_refuses_folders_no_one_can_write(path):
    if not os.path.isdir(os.path.dirname(path)):
        pytest.skip(f"{os.path.dirname(path)} does not exist on this system")
    with pytest.raises(_files.OutputError, match="cannot write in folder|does not exist"):
        _files.check_output(path, overwrite=True)


@pytest.mark.skipif(ROOT, reason="permission bits do not stop root (the /proc and /sys cases "
                                 "cover unwritable folders there)")
def test_check_output_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(_files.OutputError, match="cannot write in folder"):
            _files.check_output(folder / "x.png")
    finally:
        folder.chmod(0o755)


# -- atomic writes ----------------------------------------------------------------------------
def test_overwrite_replaces_a_symlink_and_leaves_its_target_alone(tmp_path):
    _plant(tmp_path)
    _files.write_text(tmp_path / "link.png", "new", overwrite=True)
    assert not (tmp_path / "link.png").is_symlink()
    assert (tmp_path / "link.png").read_text() == "new"
    assert (tmp_path / "mine.png").read_text() == "mine"
    _files.write_text(tmp_path / "dangling.png", "new", overwrite=True)
    assert not (tmp_path / "elsewhere.png").exists()
    assert (tmp_path / "dangling.png").read_text() == "new"


def test_a_file_that_appears_during_the_work_is_not_overwritten(tmp_path):
    target = tmp_path / "out.txt"

    def write(tmp):
        tmp.write_text("ours")
        target.write_text("theirs")  # someone else wrote it while we computed

    with pytest.raises(FileExistsError):
        _files.write_atomically(target, write)
    assert target.read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


@pytest.mark.parametrize("failure", [RuntimeError("the writer failed"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, failure):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def write(tmp):
        tmp.write_text("half")
        raise failure

    with pytest.raises(type(failure)):
        _files.write_atomically(target, write, overwrite=True)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_discard_pending_removes_the_temporary_being_written(tmp_path):
    seen = []

    def write(tmp):
        tmp.write_text("half")
        seen.append(tmp)
        _files.discard_pending()  # what the CLI's signal watcher does on Ctrl-C
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _files.write_atomically(tmp_path / "out.txt", write)
    assert not seen[0].exists() and list(tmp_path.iterdir()) == []


def test_new_files_get_the_usual_permissions(tmp_path):
    path = _files.write_text(tmp_path / "out.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_make_folder_replaces_a_symlink_with_a_real_folder(tmp_path):
    (tmp_path / "target").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "target")
    with pytest.raises(FileExistsError, match="symbolic link"):
        _files.check_folder(tmp_path / "out")
    _files.make_folder(_files.check_folder(tmp_path / "out", overwrite=True))
    assert (tmp_path / "out").is_dir() and not (tmp_path / "out").is_symlink()
    assert (tmp_path / "target").exists()



def test_outputs_written_together_appear_together_or_not_at_all(tmp_path):
    def fail(tmp):
        tmp.write_text("half")
        raise RuntimeError("the second writer failed")

    writers = {tmp_path / "a.png": lambda tmp: tmp.write_text("a"), tmp_path / "b.gif": fail}
    with pytest.raises(RuntimeError):
        _files.write_files(writers)
    assert list(tmp_path.iterdir()) == []
    writers[tmp_path / "b.gif"] = lambda tmp: tmp.write_text("b")
    assert _files.write_files(writers) == [tmp_path / "a.png", tmp_path / "b.gif"]
    assert (tmp_path / "a.png").read_text() + (tmp_path / "b.gif").read_text() == "ab"
