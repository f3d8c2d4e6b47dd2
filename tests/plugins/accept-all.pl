#!/usr/bin/perl
# Test plugin: accepts every event.
use strict;
use warnings;
use JSON::PP;

$| = 1;
my $json = JSON::PP->new->utf8->canonical;
while (my $line = <STDIN>) {
	my $req = $json->decode($line);
	print $json->encode({ id => $req->{event}{id}, action => 'accept' }), "\n";
}
