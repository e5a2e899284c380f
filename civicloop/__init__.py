from civicloop import compiled, config

VERSION = "0.1.0"

#: the per-event path this process runs: the mypyc build or the sources (civicloop/compiled.py)
CHOSEN = compiled.choose(config.value("compiled"))
