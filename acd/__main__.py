import sys

from acd.cli import main

sys.exit(main())
