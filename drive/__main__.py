import sys

from drive.cli import main

sys.exit(main())
