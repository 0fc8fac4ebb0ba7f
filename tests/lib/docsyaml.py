"""What the docs claim, read from the files: YAML examples of README.md, docs/*.md and the modules'
EXAMPLES, the modules' RETURN, and their argument specs as the code builds them."""
import ast
import glob
import importlib
import os
import re
import textwrap

import yaml

from kalib import ROOT

MODULES = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, 'plugins', 'modules', '*.py'))
                 if not p.endswith('__init__.py'))
DOC_FILES = ([os.path.join(ROOT, name) for name in ("README.md", "DEVELOPING.md")]
             + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")) + glob.glob(os.path.join(ROOT, "docs", "dev", "*.md"))))
FENCE = re.compile(r'^(?P<indent>[ \t]*)```yaml[ \t]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$', re.M | re.S)


class Example:
    def __init__(self, source, line, text):
        self.source, self.line, self.text = source, line, text
        self.data = yaml.safe_load(text)

    @property
    def id(self):
        return '%s:%d' % (os.path.relpath(self.source, ROOT), self.line)

    @property
    def kind(self):
        """'playbook', 'tasks' or 'vars'."""
        if isinstance(self.data, dict):
            return 'vars'
        if all(isinstance(x, dict) and ('hosts' in x or 'import_playbook' in x) for x in self.data):
            return 'playbook'
        return 'tasks'

    def playbook(self):
        """The example as a playbook: a task list is wrapped in a play on localhost."""
        if self.kind == 'playbook':
            return self.data
        if self.kind == 'tasks':
            return [{'name': 'Example from %s' % self.id, 'hosts': 'localhost', 'gather_facts': False,
                     'tasks': self.data}]
        return [{'name': 'Variables from %s' % self.id, 'hosts': 'localhost', 'gather_facts': False,
                 'vars': self.data, 'tasks': []}]


def doc_examples():
    found = []
    for path in DOC_FILES:
        with open(path) as f:
            text = f.read()
        for m in FENCE.finditer(text):
            body = textwrap.dedent(re.sub(r'^' + re.escape(m.group('indent')), '', m.group('body'), flags=re.M))
            found.append(Example(path, text.count('\n', 0, m.start()) + 1, body))
    return found


def module_source(name):
    return os.path.join(ROOT, 'plugins', 'modules', name + '.py')


def module_strings(name):
    """DOCUMENTATION, EXAMPLES and RETURN of a module, read without importing it."""
    with open(module_source(name)) as f:
        tree = ast.parse(f.read())
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id in ('DOCUMENTATION', 'EXAMPLES', 'RETURN'):
                out[node.targets[0].id] = node.value.value
    return out


def module_examples(name):
    return Example(module_source(name), 1, module_strings(name)['EXAMPLES'])


def returns(name):
    return yaml.safe_load(module_strings(name)['RETURN']) or {}


class _Captured(Exception):
    pass


def argument_spec(name):
    """The argument spec the module really hands to AnsibleModule (aliases and suboptions included)."""
    module = importlib.import_module('ansible_collections.keepalive.ssh.plugins.modules.%s' % name)
    captured = {}

    def fake(*_args, **kwargs):
        captured.update(kwargs)
        raise _Captured()
    real = module.AnsibleModule
    module.AnsibleModule = fake
    try:
        (getattr(module, 'main', None) or module.run_module)()
    except _Captured:
        pass
    finally:
        module.AnsibleModule = real
    assert 'argument_spec' in captured, '%s: no AnsibleModule(argument_spec=...) call found' % name
    return captured['argument_spec']


def spec_names(spec):
    """Option names and aliases of one level of an argument spec."""
    names = {}
    for option, info in spec.items():
        names[option] = info
        for alias in info.get('aliases') or []:
            names[alias] = info
    return names


def unknown_args(spec, args, where):
    """Task arguments (recursively into suboptions) that the argument spec does not know."""
    if not isinstance(args, dict):
        return []
    names = spec_names(spec)
    bad = []
    for key, value in args.items():
        if key not in names:
            bad.append('%s.%s' % (where, key))
            continue
        sub = names[key].get('options')
        if sub:
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                bad += unknown_args(sub, item, '%s.%s[%d]' % (where, key, i))
    return bad


TASK_LISTS = ('tasks', 'handlers', 'pre_tasks', 'post_tasks', 'block', 'rescue', 'always')


def tasks_of(playbook):
    """Every task of a playbook, blocks flattened."""
    out = []

    def walk(tasks):
        for task in tasks or []:
            out.append(task)
            for key in ('block', 'rescue', 'always'):
                walk(task.get(key))
    for play in playbook:
        for key in ('tasks', 'handlers', 'pre_tasks', 'post_tasks'):
            walk(play.get(key))
    return out


def role_variables():
    """Variable name → role, from every role's meta/argument_specs.yml."""
    out = {}
    for path in glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml')):
        role = path.split(os.sep)[-3]
        with open(path) as f:
            specs = yaml.safe_load(f)['argument_specs']
        for entry in specs.values():
            for name in entry.get('options', {}):
                out[name] = role
    return out
