"""The shared table of problems with known answers, used across the test files.

Each entry: a registered cost name, a start from which plain descent methods
reach the known minimum, and that minimum (from the literature or a closed
form, never from gradlab's own output).
"""

PROBLEMS = [
    # name, x0, expected minimiser, expected value
    ("bowl", [-1.0, -1.0], [2.0, -3.0], 0.0),
    ("sphere", [1.5, -2.0], [0.0, 0.0], 0.0),
    ("booth", [0.0, 0.0], [1.0, 3.0], 0.0),
    ("matyas", [3.0, -2.0], [0.0, 0.0], 0.0),
    ("rosenbrock", [-1.2, 1.0], [1.0, 1.0], 0.0),
    ("beale", [1.0, 1.0], [3.0, 0.5], 0.0),
    ("himmelblau", [1.0, 1.0], [3.0, 2.0], 0.0),
    ("styblinski-tang", [-2.0, -3.5], [-2.9035340277711770951] * 2, -78.33233140754283),
]
