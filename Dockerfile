# Rolodex: build the release binary, then run it on a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin rolodex

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/target/release/rolodex /usr/local/bin/rolodex
COPY config ./config
ENV ROLODEX_LOG__FORMAT=json
ENTRYPOINT ["rolodex"]
CMD ["serve"]
