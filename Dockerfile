# The same steps as the README's run command (scripts/serve.sh = install.sh + start.sh).
FROM python:3.11-slim-bookworm

RUN useradd --create-home --uid 10001 cdss
WORKDIR /app
COPY --chown=cdss:cdss . /app
USER cdss

RUN bash scripts/install.sh

# Inside a container the service must listen beyond loopback; set the URL EHRs call with
# CDSS_SERVER__PUBLIC_BASE_URL, and mount /app/var to keep the database and keys.
ENV CDSS_SERVER__HOST=0.0.0.0
EXPOSE 8080
VOLUME ["/app/var"]
CMD ["bash", "scripts/start.sh"]
