"""`python -m microservices`: run every service and the gateway in the foreground."""
import sys

from microservices.launcher import main

sys.exit(main())
