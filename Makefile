# Developer targets. The README's two commands are scripts/main.sh and scripts/test.sh.
PY ?= .venv/bin/python
BIN ?= .venv/bin

.PHONY: export clean readme test docs bench
export:            ## notebooks -> molcryst/ modules
	$(BIN)/nbdev_export
clean:             ## strip notebook metadata (outputs stay: they are the docs)
	$(BIN)/nbdev_clean
readme:            ## execute nbs/index.ipynb and regenerate README.md from it
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace nbs/index.ipynb
	$(BIN)/nbdev_clean --fname nbs/index.ipynb
	$(PY) scripts/make_readme.py
test:
	bash scripts/test.sh
docs:              ## processed notebooks for Quarto (`quarto render _proc` where Quarto is installed)
	$(BIN)/nbdev_proc_nbs
bench:
	$(PY) benchmarks/featurize.py
