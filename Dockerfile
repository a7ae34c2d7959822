# Steward's container image: a release build of the binary on a slim base.
# The base images are arguments so that an environment without a registry
# can build from images it made itself.
ARG BUILD_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p steward -p steward-demo-agent \
    && cp target/release/steward target/release/steward-demo-agent /usr/local/bin/

FROM ${RUNTIME_IMAGE}
COPY --from=build /usr/local/bin/steward /usr/local/bin/steward-demo-agent /usr/local/bin/
ENV STEWARD_SERVER__LISTEN=0.0.0.0:7373 \
    STEWARD_SERVER__DATA_DIR=/var/lib/steward
VOLUME /var/lib/steward
EXPOSE 7373
ENTRYPOINT ["steward"]
CMD ["up"]
