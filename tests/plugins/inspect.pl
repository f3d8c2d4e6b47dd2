#!/usr/bin/perl
# Test plugin: rejects every event with a message describing the request
# it got, so a test can check every field on the wire, e.g.
# "type=new sourceType=IP4 sourceInfo=127.0.0.1 authed= kind=1
#  content=hi receivedAt=ok". receivedAt is "ok" when within 60 s of now.
use strict;
use warnings;
use JSON::PP;

$| = 1;
my $json = JSON::PP->new->utf8->canonical;
while (my $line = <STDIN>) {
	my $req = $json->decode($line);
	my $ev = $req->{event};
	my $at = abs(($req->{receivedAt} // 0) - time) <= 60 ? 'ok' : 'bad';
	my $msg = join ' ',
		"type=$req->{type}", "sourceType=$req->{sourceType}",
		"sourceInfo=$req->{sourceInfo}", "authed=$req->{authed}",
		"kind=$ev->{kind}", "content=$ev->{content}", "receivedAt=$at";
	print STDERR "inspect: $msg\n";
	print $json->encode({ id => $ev->{id}, action => 'reject',
			      msg => "restricted: $msg" }), "\n";
}
