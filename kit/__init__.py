"""credkit core: Open Badges 3.0 credentials, Data Integrity proofs, keys, verification.

No Jupyter imports here: this package is what an employer needs to verify a credential offline.
"""

import sys

__version__ = "0.1.0"

# jsonschema checks the "iri" format with rfc3987_syntax when it is installed (Jupyter's
# dependencies install it), and importing that builds a grammar: 2 s of start-up for every credkit
# command. No schema the kit uses has an "iri" format (the OB 3.0 schema uses date and date-time),
# so the kit's processes go without it.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
