# Sluice in a container: the engine, every shipped plugin and the shipped
# pipelines, run as a non-root user. Built the way CI builds (scripts/deps,
# then scripts/build); see "Containers" in README.md for what was verified.
#
#   docker build -t sluice .            (or: podman build -t sluice .)
#   docker run --rm sluice --version
#   docker compose up                   (Kafka, PostgreSQL and both pipelines: compose.yaml)

# ---- build: the toolchain and -dev packages, from scripts/deps ------------
FROM debian:bookworm AS build
WORKDIR /src
# deps first, alone, so that the package layer is cached across source edits.
COPY scripts/deps scripts/deps
RUN scripts/deps && rm -rf /var/lib/apt/lists/*
COPY . .
# Release, no tests (they run in CI, not in the image); installed under
# /usr/local: bin/sluice, lib/sluice/plugins/*.so, include/sluice/plugin.h.
RUN BUILD_DIR=/tmp/build BUILD_TYPE=Release scripts/build -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --install /tmp/build \
 && mkdir -p /usr/local/share/sluice && cp -r pipelines /usr/local/share/sluice/

# ---- runtime: only the shared libraries the engine and plugins link --------
FROM debian:bookworm
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libyaml-0-2 libjansson4 librdkafka1 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /usr/local/ /usr/local/
# A fixed uid so that volumes (state_dir, output files) can be owned by it.
# state/ is where compose.yaml keeps checkpoints (STATE_DIR); made here so a
# volume mounted on it starts owned by that user.
RUN useradd --uid 10001 --user-group --home-dir /var/lib/sluice --create-home sluice \
 && install -d -o sluice -g sluice /var/lib/sluice/state
USER sluice
WORKDIR /var/lib/sluice
ENTRYPOINT ["sluice"]
CMD ["--help"]
