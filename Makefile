# eidkiosk — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
export CGO_ENABLED := 1

# Debian packages the build, the tests and the demo need.
DEB_PKGS := libopencv-dev libopencv-contrib-dev opencv-data libgl1-mesa-dev xorg-dev xvfb xauth \
	pkg-config gcc espeak-ng fonts-noto-cjk swtpm swtpm-tools

.PHONY: help deps build test check demo bench fuzz screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

deps: ## install the Debian packages the build needs (only those missing)
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

build: deps ## build bin/kiosk, bin/kioskctl, bin/authority
	$(GO) build -o $(BIN)/ ./cmd/...

check: ## gofmt, go vet and the dependency rules
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

test: deps check ## deps, vet, and every test with the race detector
	$(GO) test -race -timeout 25m ./...

demo: deps ## run one whole scripted visit on simulated hardware against a local authority
	$(GO) build -o $(BIN)/ ./cmd/...
	./$(BIN)/kioskctl demo

bench: deps ## benchmarks, each beside its baseline
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

clean: ## remove build output
	rm -rf $(BIN)
