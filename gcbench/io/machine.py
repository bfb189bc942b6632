"""The machine a run measures, read from the system (io room): its CPU model."""


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or None where the system does not say."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None
