"""Upper bounds on user-given sizes, shared by the commands and the solvers.

Each keeps every byte count within a signed 64-bit integer (what the JSON documents promise) while
staying above anything real.
"""

MAX_BATCH = 1 << 20
"""Largest batch (1,048,576 sequences): with MAX_SEQ_LEN it keeps every byte count within int64."""
MAX_SEQ_LEN = 1 << 24
"""Largest sequence length (16,777,216 tokens): above the longest context any model declares (Llama 4 Scout: 10M)."""
MAX_GPUS = 1 << 20
"""Largest --gpus, --tp and --pp (1,048,576): beyond any cluster, and int64-safe in every product."""
