"""Resource guards between batches (SPEC §4), driven by a fake clock and fake CPU readings."""
from __future__ import annotations

from duckpipe.engine.guards import GuardConfig, Guards
from duckpipe.engine.status import RunStatus, StatusFile


class Fake:
    def __init__(self):
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.now += s


def _guards(cfg: GuardConfig, fake: Fake, cpu: list[float], short: list[bool] | None = None) -> Guards:
    g = Guards(cfg, clock=fake.clock, sleep=fake.sleep)
    readings = iter(cpu)
    g.other_cpu = lambda: next(readings)
    shorts = iter(short or [])
    g.memory_short = lambda: next(shorts, False)
    return g


def test_pauses_only_after_sustained_high_cpu_and_resumes_below_40():
    fake = Fake()
    reasons: list[str] = []
    cfg = GuardConfig(max_cpu=85, resume_cpu=40, sustain_s=300, poll_s=5, check_every_s=0)
    # high for 0s, 200s, 300s (-> pause), then while paused: 90, 60, 30 (resume)
    g = _guards(cfg, fake, [95, 95, 95, 90, 60, 30])
    g.on_pause = reasons.append
    for t in (0, 200):
        fake.now = t
        g.between_batches()
        assert not g.pauses
    fake.now = 300
    g.between_batches()
    assert [r for r, _ in g.pauses] == ["other processes use over 85% CPU"]
    assert fake.slept == [5, 5] and reasons == ["other processes use over 85% CPU", ""]


def test_a_dip_below_the_threshold_restarts_the_sustain_window():
    fake = Fake()
    g = _guards(GuardConfig(sustain_s=300, check_every_s=0), fake, [95, 50, 95, 95])
    for t in (0, 200, 250, 500):
        fake.now = t
        g.between_batches()
    assert not g.pauses        # high since 250 only: 250 s < 300 s


def test_memory_short_pauses_until_available_again():
    fake = Fake()
    g = _guards(GuardConfig(poll_s=2, check_every_s=0), fake, [0], short=[True, True, True, False])
    g.between_batches()
    assert g.pauses[0][0] == "available memory under 10%" and fake.slept == [2, 2]


def test_cooling_break_every_n_batches():
    fake = Fake()
    g = _guards(GuardConfig(cool_every=2, cool_seconds=7, check_every_s=1e9), fake, [0] * 10)
    for _ in range(4):
        g.between_batches()
    assert fake.slept == [7, 7] and [r for r, _ in g.pauses] == ["cooling break every 2 batches"] * 2


def test_status_file_is_replaced_atomically_and_throttled(tmp_path):
    sf = StatusFile(tmp_path, min_interval_s=60)
    st = RunStatus("r1", 1, "running", 0.0, 10)
    sf.write(st)
    st.units_done = 5
    sf.write(st, throttle=True)          # within the interval: skipped
    assert sf.read()["units_done"] == 0
    sf.write(st)                         # unthrottled writes always land
    assert sf.read()["units_done"] == 5
    assert not list(tmp_path.glob("*.tmp"))



def test_other_cpu_is_a_percentage():
    g = Guards(GuardConfig())
    assert 0.0 <= g.other_cpu() <= 100.0


def test_peak_sampler_catches_a_short_spike_and_spill_files(tmp_path):
    """A 200 MB allocation freed at once, and a spill file deleted at once, still show as peaks."""
    import time

    from duckpipe.engine.resources import PeakSampler, own_tree_rss
    with PeakSampler(interval=0.02, spill_dir=tmp_path) as sampler:
        sampler.reset()
        base = own_tree_rss()
        spike = bytearray(200 * 2**20)
        spike[::4096] = b"x" * len(spike[::4096])       # touch every page
        del spike
        (tmp_path / "duckdb_temp_block-1.block").write_bytes(b"\0" * 5_000_000)
        time.sleep(0.2)
        (tmp_path / "duckdb_temp_block-1.block").unlink()
        stage_peak, stage_spill = sampler.peak, sampler.peak_spill
        sampler.reset()                          # a new stage starts from the current values
        assert sampler.peak < stage_peak - 100 * 2**20 and sampler.peak_spill == 0
    assert stage_peak >= base + 190 * 2**20
    assert stage_spill >= 5_000_000
    assert sampler.overall >= stage_peak         # the run's peak keeps the earlier stage's
