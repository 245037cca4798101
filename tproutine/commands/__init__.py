"""One module per command, imported only when that command runs.

Exit codes (the CLI contract): 0 success, 1 invalid input or failed work (one
line on stderr, never a traceback), 2 wrong usage, 130 interrupted by Ctrl-C.
They live here, in the package itself, so that ``cli`` can use them without
loading anything else.
"""

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
