# Developer targets. The README's two commands are scripts/main.sh and scripts/test.sh.
PY ?= .venv/bin/python
BIN ?= .venv/bin

.PHONY: export clean readme test docs html screenshots sidebar wheel bench
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
sidebar:           ## nbs/sidebar.yml from the notebooks in nbs/ (chapter order) and colab/
	$(PY) scripts/render_docs.py --sidebar
EXEC = $(if $(or $(EXECUTE),$(FORCE)),--execute) $(if $(FORCE),--force)
html:              ## the static site in _docs/html from the outputs stored in the notebooks (PAGES="index 10_train": a subset; EXECUTE=1: execute first; FORCE=1: re-execute)
	$(PY) scripts/render_docs.py $(PAGES) $(EXEC)
screenshots:       ## html, then a headless-Chromium screenshot of each page in _docs/screenshots
	$(PY) scripts/render_docs.py $(PAGES) $(EXEC) --screenshots _docs/screenshots
docs:              ## nbdev-processed pages in _proc/ (the html target's), then the Quarto site in _docs/site where Quarto is installed
	$(PY) scripts/render_docs.py $(PAGES) $(EXEC)
	@if command -v quarto >/dev/null 2>&1; then cd _proc && quarto render && rm -rf ../_docs/site && mv _docs ../_docs/site; \
	else echo "Quarto is not installed: _proc/ is ready for 'cd _proc && quarto render'; the static site is _docs/html/index.html"; fi
wheel:             ## build the wheel into dist/ (carries the pretrained checkpoints and data files)
	$(PY) -m pip wheel --no-deps -w dist .
bench:
	$(PY) benchmarks/featurize.py
