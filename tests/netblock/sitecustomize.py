"""Run at the start of every Python process the test suite starts: block the network beyond loopback."""
import netblock

netblock.install()
