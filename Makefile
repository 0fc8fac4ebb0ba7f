# keepalive.ssh: `make demo` runs the simulated fleet rollout, `make test` runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
COLL := .build/ansible_collections/keepalive/ssh
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build
export ANSIBLE_PYTHON_INTERPRETER := $(CURDIR)/$(VENV)/bin/python

.PHONY: deps demo test unit sanity lint molecule bench collection clean

$(VENV)/.installed: requirements.txt
	@{ command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]; } && command -v ssh >/dev/null 2>&1 && \
	  [ -x /usr/sbin/nft ] && [ -x /usr/sbin/conntrack ] && command -v sudo >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server openssh-client \
	    iproute2 nftables conntrack sudo >/dev/null; }
	@# an existing venv (a worktree's .venv may link to a shared one) is only topped up: a pinned
	@# requirement already installed needs no index, so this also works without network
	[ -x $(PY) ] || { python3 -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip; }
	$(PY) -m pip install -q -r requirements.txt
	touch $@

# containers.podman (molecule's podman driver) from the pinned `ansible` wheel: Galaxy is unreachable.
$(VENV)/.containers-podman: $(VENV)/.installed requirements-podman.txt
	$(PY) tools/podman_collection.py
	touch $@

deps: $(VENV)/.installed $(VENV)/.containers-podman .venv-matrix/.installed collection

# One venv per ansible-core version of the support matrix (tests/matrix/versions.txt, pyenv Pythons).
.venv-matrix/.installed: tests/matrix/versions.txt requirements.txt tests/matrix.sh
	bash tests/matrix.sh setup
	touch $@

# The collection as Ansible expects to find it: ansible_collections/keepalive/ssh.
collection:
	@mkdir -p $(dir $(COLL)) && ln -sfn $(CURDIR) $(COLL)

# make demo DEMO_ARGS=--idle-proof adds the idle-session proof on a simulated idle-killing path.
demo: $(VENV)/.installed collection
	$(PY) tools/demo.py $(DEMO_ARGS)

test: deps
	bash tests/run-all.sh

# The benchmark has its own venv: the `ansible` package (community.general, ansible.posix) and matplotlib.
.venv-bench/.installed: requirements.txt bench/requirements.txt
	python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install -q --upgrade pip
	.venv-bench/bin/python -m pip install -q -r bench/requirements.txt
	touch $@

bench: deps .venv-bench/.installed
	.venv-bench/bin/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf .build .venv .venv-bench .venv-matrix tests/output
