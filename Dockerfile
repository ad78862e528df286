# One image for every platform role (ivr, bridge, acd, console, metrics); the role is the command.
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN useradd --create-home --uid 10001 hotline
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY hotline ./hotline
COPY bridge ./bridge
COPY ivr ./ivr
COPY acd ./acd
COPY agent_console ./agent_console
COPY metrics ./metrics
COPY pbxsim ./pbxsim
COPY asterisk_config ./asterisk_config
RUN pip install --no-compile .
USER hotline
ENTRYPOINT ["hotline"]
CMD ["run", "--roles", "all"]
