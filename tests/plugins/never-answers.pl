#!/usr/bin/perl
# Test plugin: reads its requests and never answers (a hung plugin).
use strict;
use warnings;

while (my $line = <STDIN>) {
	print STDERR "never-answers: got a request\n";
}
