"""credkit core: Open Badges 3.0 credentials, Data Integrity proofs, keys, verification.

No Jupyter imports here: this package is what an employer needs to verify a credential offline.
"""

__version__ = "0.1.0"
