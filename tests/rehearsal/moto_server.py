"""moto's server for the rehearsal, taught what tests/aws_emulation.py lists: `python -m … PORT`.

IAM enforcement comes from the environment (``INITIAL_NO_AUTH_ACTION_COUNT``), read by moto when it starts.
"""

import sys

from tests.aws_emulation import teach_moto

if __name__ == "__main__":
    teach_moto()
    from moto.server import main

    main(["-H", "127.0.0.1", "-p", sys.argv[1]])
