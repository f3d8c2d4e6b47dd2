#!/usr/bin/perl
# Test plugin: sleeps the number of milliseconds given as the first
# argument (default 1000) before accepting each event.
use strict;
use warnings;
use JSON::PP;
use Time::HiRes qw(sleep);

$| = 1;
my $ms = @ARGV ? $ARGV[0] : 1000;
my $json = JSON::PP->new->utf8->canonical;
while (my $line = <STDIN>) {
	my $req = $json->decode($line);
	sleep($ms / 1000);
	print $json->encode({ id => $req->{event}{id}, action => 'accept' }), "\n";
}
