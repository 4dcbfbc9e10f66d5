import sys

from poolterm.cli import main

sys.exit(main())
