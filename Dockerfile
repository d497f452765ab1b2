# syntax=docker/dockerfile:1
# The `alpes` binary in a small runtime image, running as a non-root user.
#   docker build -t alpes:local .
#   docker run --rm -p 8080:8080 alpes:local serve      # SQLite in /var/lib/alpes

FROM rust:1-bookworm AS builder
WORKDIR /src
COPY . .
# The caches keep the registry and the build between image builds; the binary is copied
# out of the cached target dir, which the next stage cannot see.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin alpes \
    && install -D target/release/alpes /out/alpes

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/alpes --create-home alpes
COPY --from=builder /out/alpes /usr/local/bin/alpes
USER alpes
WORKDIR /var/lib/alpes
ENV ALPES_LISTEN=0.0.0.0:8080 \
    ALPES_EVENTS=sqlite:///var/lib/alpes/alpes.db
EXPOSE 8080
ENTRYPOINT ["alpes"]
CMD ["serve"]
