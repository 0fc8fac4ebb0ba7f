"""Offline stand-in for ansible-test's pip bootstrap script (get-pip).

ansible-test downloads get-pip from a host this network cannot reach; pip
itself comes from the package index, which it can.  This script is copied to
the path where ansible-test caches get-pip, and does the same job: put pip into
the new virtual environment (from the interpreter's bundled wheel), then
install the requested pip version.  ansible-test runs pip with a trimmed
environment, so the machine's CA bundle is written into the venv's pip.conf.
"""
import ensurepip
import os
import subprocess
import sys

CA_BUNDLES = [os.environ.get('PIP_CERT'), os.environ.get('SSL_CERT_FILE'), '/etc/ssl/certs/ca-certificates.crt']
cert = next((c for c in CA_BUNDLES if c and os.path.exists(c)), None)
if cert:
    with open(os.path.join(sys.prefix, 'pip.conf'), 'w') as conf:
        conf.write('[global]\ncert = %s\n' % cert)
env = dict(os.environ)
ensurepip.bootstrap(upgrade=True)  # also points PIP_CONFIG_FILE at /dev/null in os.environ
args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--upgrade'] + args, env=env))
