import sys

from irodori.cli import main

sys.exit(main())
