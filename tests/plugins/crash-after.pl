#!/usr/bin/perl
# Test plugin: accepts the first N events (first argument, default 2), then
# exits with status 3 without answering the next one. Every start is
# announced on stderr with its pid.
use strict;
use warnings;
use JSON::PP;

$| = 1;
my $n = @ARGV ? $ARGV[0] : 2;
my $json = JSON::PP->new->utf8->canonical;
print STDERR "crash-after: started pid $$\n";
while (my $line = <STDIN>) {
	my $req = $json->decode($line);
	if ($n-- <= 0) {
		print STDERR "crash-after: crashing now\n";
		exit 3;
	}
	print $json->encode({ id => $req->{event}{id}, action => 'accept',
			      msg => "pid $$" }), "\n";
}
