# eidkiosk — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= 0.1.0
# The shipped binaries are position independent with full RELRO (what
# lintian's hardening checks and Debian's policy ask; mkdeb refuses others).
BUILDFLAGS := -buildmode=pie
LDFLAGS := -X eidkiosk/kiosk/app.Version=$(VERSION) -linkmode=external -extldflags=-Wl,-z,relro,-z,now
# The packages' Maintainer: make deb MAINTAINER='City IT <eid@city.example.org>'.
# Default: the git identity of whoever builds, else the author of the
# checked-out commit; mkdeb refuses a placeholder (no name, no mail domain).
MAINTAINER ?= $(shell if git config user.email >/dev/null; then echo "$$(git config user.name) <$$(git config user.email)>"; \
	else git log -1 --format='%an <%ae>' 2>/dev/null; fi)
export CGO_ENABLED := 1

# Debian packages the build, the tests and the demo need: OpenCV 4.6 and its
# Haar cascades (camera, face), the X11/GL headers Fyne builds against, Xvfb,
# xwd and ImageMagick (UI under a virtual display, screenshots), espeak-ng
# (voice), Noto CJK (Simplified Chinese glyphs), swtpm (TPM tests), dpkg-dev
# (shared-library dependencies of the .debs), cage and Xwayland (the kiosk session),
# debootstrap and systemd-container (the system test boots a Debian root with systemd-nspawn),
# postgresql (the PostgreSQL store's tests start throw-away clusters with its initdb and pg_ctl),
# lintian (make lintian checks the .debs),
# npm when no npm is on the PATH (fetches the pinned face models: make models;
# checked by command, since a NodeSource nodejs provides npm and conflicts
# with Debian's package).
DEB_PKGS := libopencv-dev libopencv-contrib-dev opencv-data libgl1-mesa-dev xorg-dev xvfb xauth \
	x11-apps imagemagick pkg-config gcc espeak-ng fonts-noto-cjk swtpm swtpm-tools dpkg-dev cage xwayland \
	debootstrap systemd-container postgresql chromium prometheus lintian xdotool

# Packages whose tests need neither OpenCV nor Fyne: `make test-fast`.
PURE := ./internal/... ./idcard/... ./enroll/... ./kiosk/session/... ./kiosk/config/... ./kiosk/submit/... \
	./kiosk/outbox/... ./kiosk/uplink/... ./kiosk/peripherals/... ./authority/intake/... ./authority/registry/... \
	./authority/pki/... ./authority/fleet/... ./provisioning/... ./drivers/idcard/... ./drivers/gpio/... ./drivers/printer/...

MODELS ?= out/models

.PHONY: help deps models build test test-fast check fuzz long demo sim-kiosk bench screenshots deb lintian system-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 16

deps: ## install the Debian packages the build needs (only those missing)
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" != 0 ]; then SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@$(MAKE) --no-print-directory models

models: ## the pinned face models (npm pack, SHA-256 checked) into out/models; offline when present
	@command -v npm >/dev/null || { echo "models: npm is missing (apt-get install npm)"; exit 1; }
	$(GO) run ./facemodel/fetchmodels --dir $(MODELS)

build: deps ## build bin/kiosk, bin/kiosk-launch, bin/kioskctl, bin/authority (PIE, full RELRO)
	$(GO) build $(BUILDFLAGS) -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

check: ## gofmt, go vet (the dependency rules are tests)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

test: deps check ## deps, vet, every test with -race, every golden screen, Mat leaks, 30 s of fuzzing the reader, 3×5 s of the authority's parsers
	$(GO) test -race -timeout 30m ./...
	$(GO) test -count=1 ./ui/shots
	$(GO) test -tags matprofile -run 'MatProfile' -count=1 ./kiosk/face/ ./drivers/camera/ ./facematch/
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime 30s -fuzzminimizetime 5s ./drivers/idcard
	$(GO) test -run '^$$' -fuzz '^FuzzProvisionJSON$$' -fuzztime 5s -fuzzminimizetime 1s ./authority/registry
	$(GO) test -run '^$$' -fuzz '^FuzzHeartbeat$$' -fuzztime 5s -fuzzminimizetime 1s ./authority/fleet
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime 5s -fuzzminimizetime 1s ./enroll
	@$(MAKE) --no-print-directory lintian

test-fast: check ## the pure-Go packages only, without the race detector (seconds)
	$(GO) test $(PURE)

fuzz: ## longer fuzzing: reader frames, sealed packages and their canonical form, update archives, identity bundles, provisioning and heartbeat JSON
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime 10m ./drivers/idcard
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 2m ./enroll
	$(GO) test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime 2m ./enroll
	$(GO) test -run '^$$' -fuzz '^FuzzProvisionJSON$$' -fuzztime 2m ./authority/registry
	$(GO) test -run '^$$' -fuzz '^FuzzHeartbeat$$' -fuzztime 2m ./authority/fleet
	$(GO) test -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime 2m ./kiosk/update
	$(GO) test -run '^$$' -fuzz '^FuzzLoadIdentity$$' -fuzztime 2m ./provisioning

long: ## the long variants: crash and kill tests (the PostgreSQL intake's and the audit log's), soak of the UI, the 10,000-visit soak (hours)
	EIDKIOSK_LONG=1 $(GO) test -count=1 -timeout 60m ./kiosk/uplink/ ./kiosk/outbox/ ./kiosk/update/ ./kiosk/audit/ ./ui/ ./authority/intake/
	EIDKIOSK_LONG=1 $(GO) test -count=1 -timeout 5h -run '^TestSoak$$' -v ./sim/demo/

demo: deps ## run one whole scripted visit on simulated hardware against a local authority
	$(GO) build $(BUILDFLAGS) -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...
	LANGUAGE=zh_CN ./$(BIN)/kioskctl demo

sim-kiosk: deps ## the whole kiosk in a window on simulated hardware; type 'place 0' to put a card on the reader
	$(GO) build $(BUILDFLAGS) -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/kioskctl
	./$(BIN)/kioskctl sim kiosk

bench: deps ## benchmarks, each beside its baseline
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

screenshots: deps ## PNG of every screen in both languages into docs/screens/
	LANGUAGE=zh_CN $(GO) run ./cmd/kioskctl screenshots --out docs/screens

DIST ?= dist
# The system test also upgrades to packages of the next patch version.
NEXT_VERSION := $(shell echo '$(VERSION)' | awk -F. '{ print $$1 "." $$2 "." $$3 + 1 }')

deb: build ## .deb packages (and -dbgsym), manual pages, copyright, changelog and a CycloneDX SBOM per binary into dist/
	rm -rf $(DIST)/*.deb $(DIST)/sbom
	$(GO) run ./packaging/mkdeb --version $(VERSION) --bin $(BIN) --out $(DIST) --maintainer "$(MAINTAINER)" --sbom

lintian: deb ## lintian on the .debs in dist/ (fails on any error) and each SBOM against go version -m
	EIDKIOSK_DEB_DIST=$(CURDIR)/$(DIST) $(GO) test -count=1 -v -run '^TestBuiltPackages$$' ./packaging/mkdeb

system-test: deb ## as root: boot Debian 12 under systemd-nspawn, install both .debs, upgrade them, check the units for real (packaging/systest)
	$(MAKE) deb VERSION=$(NEXT_VERSION) BIN=$(BIN)/next DIST=$(DIST)/next
	EIDKIOSK_SYSTEM_TEST=$(CURDIR)/$(DIST) EIDKIOSK_SYSTEST_UPGRADE=$(CURDIR)/$(DIST)/next \
		$(GO) test -count=1 -timeout 60m -v -run '^TestAppliance$$' ./packaging/systest

clean: ## remove build output
	rm -rf $(BIN) dist
