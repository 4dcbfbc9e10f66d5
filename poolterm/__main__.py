import sys

from poolterm.cli.main import main

sys.exit(main())
