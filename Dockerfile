# webkube in a container. It runs containers itself (containerd + runc + CNI), so it needs
# a privileged container:
#   docker build -t webkube .
#   docker run --rm --privileged -p 8080:8080 -v webkube-data:/var/lib/webkube webkube
# Listening on 0.0.0.0 inside the container makes webkube require its token; it prints the
# dashboard URL with the token at start, and the kubeconfig is in the data volume.
# The dashboard's editor and terminal: npm packages at the lockfile's versions, bundled.
FROM node:20-bookworm-slim AS frontend
WORKDIR /src/web/frontend
COPY web/frontend/package.json web/frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/frontend/ ./
RUN node build.mjs

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=frontend /src/web/static/dist ./web/static/dist
RUN CGO_ENABLED=1 go build -trimpath -tags no_dynamic_plugins -o /out/webkube ./cmd/webkube

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      containerd runc containernetworking-plugins busybox-static iptables iproute2 \
      redis-server ca-certificates procps \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/webkube /usr/local/bin/webkube
VOLUME /var/lib/webkube
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/webkube", "--addr", "0.0.0.0:8080", "--data-dir", "/var/lib/webkube"]
