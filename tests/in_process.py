"""The command line run in the test's own process, as the CLI test files share it."""

from gradlab.cli import main


def run(capsys, *argv):
    """``gradlab argv`` in process: (exit status, stdout, stderr); argparse's exit included."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err
