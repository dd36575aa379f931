# strata on Debian 12 (bookworm), in two stages.
#
#   builder  the README's test set-up: scripts/deps.sh test, then scripts/test.sh
#            (cmake + ctest; STRATA_TESTS picks the configurations, "none" skips),
#            then a release build installed into /stage.
#   runtime  plain debian:12 with strata installed in /usr/local
#            (lib/libstrata.so.0, libstrata.a, include/strata, lib/cmake/strata,
#            lib/pkgconfig/strata.pc, bin/strata).
#
#   docker build -t strata .                                  # tests: release + asan
#   docker build --build-arg STRATA_TESTS=release -t strata .
#   docker run --rm strata strata --stats ls /                # one program on strata
#   docker build --build-arg STRATA_PRELOAD=/usr/local/lib/libstrata.so.0 -t strata-everywhere .
#
# Without a Docker engine, scripts/docker_chroot.sh runs these same steps in
# debootstrap chroots (see the README, "Docker").
ARG DEBIAN_IMAGE=debian:12

FROM ${DEBIAN_IMAGE} AS builder
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src/strata
COPY scripts/deps.sh scripts/deps.sh
RUN scripts/deps.sh test
COPY . .
ARG STRATA_TESTS="release asan"
RUN if [ "$STRATA_TESTS" != none ]; then STRATA_TEST_CONFIGS="$STRATA_TESTS" scripts/test.sh; fi
RUN cmake -S . -B /build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTRATA_BUILD_TESTS=OFF -DSTRATA_BUILD_BENCH=OFF \
 && cmake --build /build/release -j "$(nproc)" \
 && DESTDIR=/stage cmake --install /build/release --prefix /usr/local

FROM ${DEBIAN_IMAGE} AS runtime
COPY --from=builder /stage/usr/local/ /usr/local/
RUN ldconfig && strata --version && strata --conf abort_conf:true true
# Opt in to strata for every process of the container (not only those started
# through bin/strata): build with --build-arg STRATA_PRELOAD=/usr/local/lib/libstrata.so.0,
# or uncomment the ENV line. Empty (the default) preloads nothing.
ARG STRATA_PRELOAD=""
ENV LD_PRELOAD=${STRATA_PRELOAD}
# ENV LD_PRELOAD=/usr/local/lib/libstrata.so.0
CMD ["strata", "--stats", "ls", "/usr/local"]
