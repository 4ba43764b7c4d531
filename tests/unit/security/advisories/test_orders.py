"""Each ecosystem's version order, on its edge cases and against reference answers."""

import random

import pytest

from portside.security.advisories.orders import APK, DPKG, PEP440, RPM, SEMVER, VersionOrder


def sign(order: VersionOrder, a: str, b: str) -> str:
    return "<=>"[order.compare(a, b) + 1]


def check(order: VersionOrder, a: str, op: str, b: str) -> None:
    assert sign(order, a, b) == op, f"{a} {op} {b}"
    assert sign(order, b, a) == {"<": ">", ">": "<", "=": "="}[op], f"{b} vs {a}"


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("1:1.0", ">", "2.0"),  # the epoch wins
        ("1.0~rc1", "<", "1.0"),  # ~ sorts before everything, even the end
        ("1.0~rc1", "<", "1.0~rc2"),
        ("1.0~~", "<", "1.0~"),
        ("1.0", "<", "1.0a"),  # the end sorts before letters
        ("1.0a", "<", "1.0+"),  # letters sort before other characters
        ("1.0", "<", "1.0.1"),
        ("1.10", ">", "1.9"),  # numbers compare as numbers
        ("1.01", "=", "1.1"),
        ("1.0", "=", "1.0-0"),  # a missing revision is "0"
        ("0:1.0", "=", "1.0"),
        ("2.36-9", "<", "2.36-9+deb12u1"),
        ("2.36-9+deb12u2", "<", "2.36-9+deb12u3"),
        ("2.36-9+deb12u3", "<", "2.36-10"),
        ("3.0.11-1~deb12u2", "<", "3.0.11-1"),  # backports and stable updates
        ("1.2-3+b1", ">", "1.2-3"),  # a binNMU
        ("2.35-0ubuntu3.4", ">", "2.35-0ubuntu3.1"),
        ("1.0-1ubuntu1", ">", "1.0-1"),
        ("7.88.1-10+deb12u5", "<", "7.88.1-10+deb12u12"),
    ],
)
def test_dpkg_order(a: str, op: str, b: str) -> None:
    check(DPKG, a, op, b)


@pytest.mark.parametrize("bad", ["", "a:1.0", "1.0 beta", "1:", "1.0-", "1.0_1", "1:2:3-é"])
def test_dpkg_refuses_invalid_versions(bad: str) -> None:
    assert DPKG.key(bad) is None
    with pytest.raises(ValueError, match="not a valid dpkg version"):
        DPKG.compare(bad, "1.0")


def test_dpkg_agrees_with_python_debian_on_random_versions() -> None:
    debian_support = pytest.importorskip("debian.debian_support", reason="python-debian (dev)")
    rng = random.Random(7)
    atoms = ["0", "1", "2", "10", "01", "a", "b", "z", "A", "~", "+", ".", "~~", "rc", "1a"]

    def version() -> str:
        upstream = str(rng.randint(0, 3)) + "".join(rng.choices(atoms, k=rng.randint(0, 4)))
        text = f"{rng.randint(0, 2)}:{upstream}" if rng.random() < 0.3 else upstream
        if rng.random() < 0.6:
            text += "-" + "".join(rng.choices(["0", "1", "deb12u1", "+b1", "~bpo", "~"], k=2))
        return text

    corpus = [v for v in {version() for _ in range(300)} if DPKG.key(v) is not None]
    for _ in range(3000):
        a, b = rng.choice(corpus), rng.choice(corpus)
        va, vb = debian_support.Version(a), debian_support.Version(b)
        expected = (va > vb) - (va < vb)
        assert DPKG.compare(a, b) == expected, (a, b)


# Pairs from apk-tools' own test data (test/version.data), plus Alpine's common shapes.
APK_CASES = """
2.34 > 0.1.0_alpha
0.1.0_alpha < 0.1.3_alpha
0.1.0_alpha2 > 0.1.0_alpha
1.0.4-r3 < 1.0.4-r4
1.1 > 1.1_alpha1
1.2.1 > 1.2
1.3_alpha2 < 1.3_alpha3
0.8_beta1 < 0.8_beta2
3.10.18-r1 > 2.3.0b-r1
2.3.0b-r1 < 2.3.0b-r2
0.12.3 > 0.12
1.06-r6 < 006
3.1_p16 < 3.1_p17
1.2.2-r1 > 1.2.2
20050718-r1 < 20050718-r2
3.0.20060720 < 20060720
2.5.1-r8 < 2.5.1a-r1
1.7 < 1.7b
1.8.5 < 1.8.5_p2
2.0.0_rc3-r1 > 1.5
0.10.0 < 0.10.1_rc1
4.5_p1-r1 > 4.5_p1
0.9.8c-r1 < 0.9.8d
1.02 < 1.03-r1
0.9.28.1 < 087-r1
1.3-r0 < 1.3.1-r0
1.3_pre1-r1 < 1.3.2
1.0_p10-r0 > 1.0_p9-r0
0.1.0_alpha_pre2 < 0.1.0_alpha
1.0.0_pre20191002222144-r0 < 1.0.0_pre20210530193627-r0
1.2.3_rc1 < 1.2.3
1.2.3 < 1.2.3-r1
1.2.3_alpha < 1.2.3_beta
1.2.3_beta < 1.2.3_pre
1.2.3_pre < 1.2.3_rc
1.2.3_p1 > 1.2.3-r5
1.2.3_p1 < 1.2.3a
1.2.3a < 1.2.3.1
9.3_p1-r3 < 9.3_p2-r0
2.40_git20230831-r0 > 2.40-r5
2.40_git20230831-r0 < 2.41-r0
3.1.4-r5 = 3.1.4-r5
1.1.1w-r1 > 1.1.1v-r0
"""


@pytest.mark.parametrize("line", APK_CASES.strip().splitlines())
def test_apk_order(line: str) -> None:
    a, op, b = line.split()
    check(APK, a, op, b)


@pytest.mark.parametrize(
    "bad", ["", "r1", "1.0bc", "23_foo", "1.2-3", "1.2-r1.3", "1.2a.3", "v1.2"]
)
def test_apk_refuses_invalid_versions(bad: str) -> None:
    assert APK.key(bad) is None


# Checked against rpm 4.18's rpm.vercmp().
RPM_CASES = """
1.0~rc1 < 1.0
1.0~rc1 < 1.0~rc2
1.0~~ < 1.0~
1.0 < 1.0^git1
1.0^git1 < 1.0.1
1.0^ > 1.0
1:1.0 > 2.0
0:2.34-60.el9_2.7 = 2.34-60.el9_2.7
2.34-60.el9_2.6 < 2.34-60.el9_2.7
2.34-60.el9 < 2.34-60.el9_2
1.0a < 1.0.1
1.0 < 1.0a
1a < 1.0
1.0 < 1.0-1
1.0.0 = 1.0_0
1.010 = 1.10
2.0 > 1.999
5.3.28-150400.1.1 > 5.3.28-150000.1.1
1.2.3-4.el8 < 1.2.3-4.el9
"""


@pytest.mark.parametrize("line", RPM_CASES.strip().splitlines())
def test_rpm_order(line: str) -> None:
    a, op, b = line.split()
    check(RPM, a, op, b)


@pytest.mark.parametrize("bad", ["", "x:1.0", "1.0 2", "-1"])
def test_rpm_refuses_invalid_versions(bad: str) -> None:
    assert RPM.key(bad) is None


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("1.0rc1", "<", "1.0"),
        ("1.0a1", "<", "1.0b1"),
        ("1.0.dev1", "<", "1.0a1"),
        ("1.0.post1", ">", "1.0"),
        ("1.0", "=", "1.0.0"),
        ("1!0.1", ">", "2.0"),
        ("2.31.0", ">", "2.3.0"),
        ("1.0+local", ">", "1.0"),
    ],
)
def test_pep440_order(a: str, op: str, b: str) -> None:
    check(PEP440, a, op, b)


def test_pep440_refuses_invalid_versions() -> None:
    assert PEP440.key("not a version") is None


@pytest.mark.parametrize(
    ("a", "op", "b"),
    [
        ("1.0.0-alpha", "<", "1.0.0-alpha.1"),  # the example chain from semver.org
        ("1.0.0-alpha.1", "<", "1.0.0-alpha.beta"),
        ("1.0.0-alpha.beta", "<", "1.0.0-beta"),
        ("1.0.0-beta", "<", "1.0.0-beta.2"),
        ("1.0.0-beta.2", "<", "1.0.0-beta.11"),
        ("1.0.0-beta.11", "<", "1.0.0-rc.1"),
        ("1.0.0-rc.1", "<", "1.0.0"),
        ("1.0.0+build.1", "=", "1.0.0"),  # build metadata has no precedence
        ("1.0.0+build.1", "=", "1.0.0+build.2"),
        ("1.0.0-rc.1+build", "<", "1.0.0"),
        ("2.0.0", ">", "1.99.99"),
        ("v1.2.3", "=", "1.2.3"),
    ],
)
def test_semver_order(a: str, op: str, b: str) -> None:
    check(SEMVER, a, op, b)


@pytest.mark.parametrize("bad", ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "1.0.0+", "latest"])
def test_semver_refuses_invalid_versions(bad: str) -> None:
    assert SEMVER.key(bad) is None
