# Build: docker build -t motcua .   Run: see docker-compose.yml.
FROM rust:1-bookworm AS build
RUN apt-get update -qq && apt-get install -y -qq libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY templates templates
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN apt-get update -qq && apt-get install -y -qq libpq5 ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app motcua
WORKDIR /app
COPY --from=build /src/target/release/motcua /usr/local/bin/motcua
COPY config config
USER motcua
ENV MOTCUA_ENV=production \
    MOTCUA__HTTP__HOST=0.0.0.0 \
    MOTCUA__HTTP__PORT=8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
CMD ["motcua", "serve"]
