#!/usr/bin/perl
# Test plugin: before each real answer, writes lines a plugin host must
# ignore: plain text, JSON that is not a reply, a reply with an unknown
# action, a reply for an event it was not asked about, and a 100 kB line.
# Then rejects events whose content starts with "no" and accepts the rest.
use strict;
use warnings;
use JSON::PP;

$| = 1;
my $json = JSON::PP->new->utf8->canonical;
while (my $line = <STDIN>) {
	my $req = $json->decode($line);
	my $id = $req->{event}{id};
	print "this is not json\n";
	print "[1,2,3]\n";
	print $json->encode({ id => $id, action => 'maybe' }), "\n";
	print $json->encode({ id => 'f' x 64, action => 'reject' }), "\n";
	print $json->encode({ id => 'zz', action => 'accept' }), "\n";
	print 'x' x 100000, "\n";
	print "\n";
	if ($req->{event}{content} =~ /^no/) {
		print $json->encode({ id => $id, action => 'reject',
				      msg => 'says no' }), "\n";
	} else {
		print $json->encode({ id => $id, action => 'accept' }), "\n";
	}
}
