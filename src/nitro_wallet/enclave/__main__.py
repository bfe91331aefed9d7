"""`python -m nitro_wallet.enclave`: the enclave process (see boot.py)."""

import sys

from nitro_wallet.enclave.boot import main

sys.exit(main())
