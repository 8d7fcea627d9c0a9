# syntax=docker/dockerfile:1
# Node 24, the current LTS (the suite runs on it in CI, beside the machines' Node 20).
# Build: compile TypeScript and the Lambda bundle with the dev toolchain.
# --workspaces=false: the CDK app (infra/, an npm workspace) is not installed in the image.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --workspaces=false --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --workspaces=false --omit=dev --no-audit --no-fund --ignore-scripts

FROM node:24-bookworm-slim
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
USER node
# 8080: the API (PORT); 9464: GET /metrics for the scraper only (METRICS_PORT)
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=2s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node runs as PID 1 with its own SIGTERM/SIGINT handlers: the signals of a scale-in reach it directly.
CMD ["node", "dist/src/main.js"]
