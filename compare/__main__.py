"""`python -m compare` is the `gradcompare` command."""

import sys

from compare.cli import main

sys.exit(main())
