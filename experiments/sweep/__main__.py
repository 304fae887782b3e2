import sys

from experiments.sweep.command import main

sys.exit(main())
