"""molcryst setup (nbdev-2 style): name, version, requirements, extras and console scripts come from settings.ini."""
from configparser import ConfigParser
import setuptools

cfg = ConfigParser(delimiters=['='])
cfg.read('settings.ini', encoding='utf-8')
cfg = cfg['DEFAULT']

licenses = {'apache2': ('Apache Software License 2.0', 'OSI Approved :: Apache Software License')}
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive']
lic = licenses[cfg['license']]
requirements = cfg.get('requirements', '').split()
dev_requirements = cfg.get('dev_requirements', '').split()
EXTRAS = ('hpo', 'explain', 'md', 'wandb')   # optional parts; `all` is all of them, `dev` adds the tools
extras = {e: cfg.get(f'{e}_requirements', '').split() for e in EXTRAS}
extras['all'] = sorted({r for e in EXTRAS for r in extras[e]})
extras['dev'] = extras['all'] + dev_requirements
scripts = [o.strip() for o in cfg.get('console_scripts', '').split() if o.strip()]

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    license=lic[0],
    description=cfg['description'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    author=cfg['author'],
    author_email=cfg['author_email'],
    url=cfg['git_url'],
    keywords=cfg['keywords'].split(),
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'],
        'License :: ' + lic[1],
        'Natural Language :: ' + cfg['language'],
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Chemistry',
    ],
    python_requires='>=' + cfg['min_python'],
    packages=setuptools.find_namespace_packages(include=['molcryst', 'molcryst.*']),  # data folders too (setuptools warns otherwise)
    package_data={'molcryst': ['data/*.npz', 'data/*.json', 'data/*.yaml', 'data/pretrained/*.ckpt', 'data/pretrained/*.yaml',
                              'data/pretrained/ensembles/*.ckpt', 'data/pretrained/ensembles/*.yaml']},
    include_package_data=True,
    install_requires=requirements,
    extras_require=extras,
    entry_points={'console_scripts': scripts, 'nbdev': [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
