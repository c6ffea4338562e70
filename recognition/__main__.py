"""`python -m recognition ...`: see `recognition.cli`."""

import sys

from recognition.cli import main

sys.exit(main())
