"""Environment packs: a registered version's Python environment as one relocatable tar.gz in
the stand's artifact store, built once per content address and verified before it is used.

    pack_version(client, PackStore(artifacts), PackRequest(model, version, project_dir))
        → PackResult (key, uri, sha256, size; built or reused); version tags conveyor.pack.*
    fetch_pack(uri)  → the unpacked folder in the cache (SHA-256 checked, unpacked once)
    pack_python(folder), clean_environment()  → how to run something inside it

Modules: inputs (what a pack is built from), lock (uv's resolution and the key), build (the
venv), archive (tar.gz, SHA-256), verify, store (layout in the artifact store), fetch, runtime.
"""

from conveyor.packs.fetch import fetch_pack, pack_cache, read_record
from conveyor.packs.pack import PackRequest, PackResult, pack_version, read_model_environment
from conveyor.packs.runtime import clean_environment, pack_python
from conveyor.packs.store import PackRecord, PackStore

__all__ = [
    "PackRecord",
    "PackRequest",
    "PackResult",
    "PackStore",
    "clean_environment",
    "fetch_pack",
    "pack_cache",
    "pack_python",
    "pack_version",
    "read_model_environment",
    "read_record",
]
